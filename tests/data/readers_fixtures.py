"""Tiny logs in each source's real format, written by the tests (never copied from a dataset)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path


def write(path: Path, data: bytes, gz: bool = False) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def ml_dat(folder: Path, ratings=None, encoding="latin-1") -> Path:
    """ml-1m/ratings.dat + movies.dat ('::', latin-1)."""
    ratings = ratings or [(1, 10, 5, 978300760), (1, 20, 3, 978302109), (2, 10, 4, 978298413),
                          (2, 30, 1, 978299000)]
    write(folder / "ratings.dat", "".join("::".join(map(str, r)) + "\n" for r in ratings).encode())
    movies = "10::Toy Story (1995)::Animation\n20::Amélie (2001)::Comedy\n30::Heat (1995)::Action\n"
    write(folder / "movies.dat", movies.encode(encoding))
    return folder


def ml_csv(folder: Path, rows=None) -> Path:
    """ml-25m/ratings.csv + movies.csv (headers, half stars, quoted titles)."""
    rows = rows or ["1,296,5.0,1147880044", "1,306,3.5,1147868817", "2,296,3.0,1147868828",
                    "3,307,0.5,1147868500"]
    write(folder / "ratings.csv", ("userId,movieId,rating,timestamp\n" + "\n".join(rows) + "\n").encode())
    write(folder / "movies.csv", b'movieId,title,genres\n296,Pulp Fiction (1994),Crime\n'
          b'306,"Three Colors: Red (Trois couleurs: Rouge) (1994)",Drama\n307,"Bleu, Le (1993)",Drama\n')
    return folder


AMAZON_2018 = [
    {"overall": 5.0, "verified": True, "reviewerID": "A1", "asin": "B001", "unixReviewTime": 1500000000,
     "reviewText": "great", "style": {"Format:": " Paperback"}},
    {"overall": 2.0, "reviewerID": "A2", "asin": "B002", "unixReviewTime": 1500000100},
    {"overall": 4.0, "reviewerID": "A1", "asin": "B002", "unixReviewTime": 1500000200},
    {"overall": 4.0, "reviewerID": "A1", "asin": "B002", "unixReviewTime": 1500000200},  # duplicate
    {"overall": 3.0, "reviewerID": "A3", "asin": "B003", "unixReviewTime": 1500000300},
]
AMAZON_2018_META = [
    {"asin": "B001", "title": "A Book", "description": ["Line one.", "Line  two."]},
    {"asin": "B002", "title": "Other Book", "description": []},
    {"asin": "B999", "title": "Never rated"},
]
AMAZON_2023 = [
    {"rating": 5.0, "title": "t", "user_id": "U1", "asin": "X1", "parent_asin": "P1", "timestamp": 1588687728923},
    {"rating": 1.0, "user_id": "U2", "asin": "X2", "parent_asin": "P2", "timestamp": 1588615855070},
    {"rating": 4.0, "user_id": "U1", "asin": "X3", "parent_asin": "P2", "timestamp": 1589000000000},
]
AMAZON_2023_META = [
    {"parent_asin": "P1", "title": "Soap", "description": ["Smells", "good"], "features": ["x"]},
    {"parent_asin": "P2", "title": "Brush", "description": []},
]


def jsonl(rows) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def amazon(folder: Path, release: int, gz: bool, rows=None, meta=True) -> Path:
    suffix = ".json" if release == 2018 else ".jsonl"
    reviews = AMAZON_2018 if release == 2018 else AMAZON_2023
    metadata = AMAZON_2018_META if release == 2018 else AMAZON_2023_META
    path = write(folder / f"Books{suffix}", rows if rows is not None else jsonl(reviews), gz)
    if meta:
        write(folder / f"meta_Books{suffix}", jsonl(metadata), gz)
    return path


def bx(folder: Path) -> Path:
    """BX-Book-Ratings.csv + BX-Books.csv (';', latin-1, quoted)."""
    ratings = ['"User-ID";"ISBN";"Book-Rating"', '"276725";"034545104X";"0"', '"276726";"0155061224";"5"',
               '"276726";"034545104X";"6"', '"276727";"0446520802";"10"', '"276727";"9999999999";"8"']
    books = ['"ISBN";"Book-Title";"Book-Author";"Year-Of-Publication";"Publisher"',
             '"034545104X";"Flesh Tones: A Novel";"M. J. Rose";"2002";"Ballantine Books"',
             '"0155061224";"Rites of Passage";"Judith Rae";"2001";"Heinle"',
             '"0446520802";"The Notebook";"Nicholas Sparks";"1996";"Warner Books"']
    write(folder / "BX-Book-Ratings.csv", ("\n".join(ratings) + "\n").encode("latin-1"))
    write(folder / "BX-Books.csv", ("\n".join(books) + "\n").encode("latin-1"))
    return folder


def recbole(folder: Path, rating=True) -> Path:
    head = "user_id:token\titem_id:token" + ("\trating:float" if rating else "") + "\ttimestamp:float\n"
    rows = [("1", "1193", "5", "978300760"), ("1", "661", "3", "978302109.5"), ("2", "1193", "4", "978298413")]
    body = "".join("\t".join(r[:2] + ((r[2],) if rating else ()) + (r[3],)) + "\n" for r in rows)
    write(folder / "ml-1m.inter", (head + body).encode())
    write(folder / "ml-1m.item", b"item_id:token\tmovie_title:token_seq\trelease_year:token\n"
          b"1193\tOne Flew Over the Cuckoo's Nest\t1975\n661\tJames and the Giant Peach\t1996\n")
    return folder
