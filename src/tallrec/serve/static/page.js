// The page of `tallrec serve --catalogue`: search titles, mark them liked or disliked, get the top
// 10 recommendations, rank your own candidates. Only the public HTTP API; no build step.
"use strict";

const $ = (sel) => document.querySelector(sel);
const history = [];  // {id, title, liked} in the order marked (the server puts liked items last)

function el(tag, text, cls) {
  const node = document.createElement(tag);
  if (text !== undefined) node.textContent = text;
  if (cls) node.className = cls;
  return node;
}

function showError(message) {
  const box = $("#error");
  box.textContent = message || "";
  box.hidden = !message;
}

async function api(method, path, body) {
  const headers = {};
  const key = $("#key").value.trim();
  if (key) headers["Authorization"] = "Bearer " + key;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const r = await fetch(path, {method, headers, body: body === undefined ? undefined : JSON.stringify(body)});
  const data = await r.json().catch(() => ({error: r.status + " " + r.statusText}));
  if (!r.ok) {
    if (r.status === 401) $("#key-box").hidden = false;
    const err = new Error(data.error || "HTTP " + r.status);
    err.status = r.status;
    throw err;
  }
  return data;
}

function user() {
  return {liked: history.filter((h) => h.liked).map((h) => h.title),
          disliked: history.filter((h) => !h.liked).map((h) => h.title)};
}

function adapter() {
  const value = $("#adapter").value;
  return value ? {adapter: value} : {};
}

function mark(item, liked) {
  const i = history.findIndex((h) => h.title === item.title);
  if (i >= 0) history.splice(i, 1);
  history.push({id: item.id, title: item.title, liked});
  renderHistory();
}

function renderHistory() {
  const list = $("#history");
  list.replaceChildren();
  for (const h of history) {
    const li = el("li");
    li.dataset.title = h.title;
    li.dataset.liked = String(h.liked);
    li.append(el("span", h.liked ? "liked" : "disliked", "mark " + (h.liked ? "liked" : "disliked")),
              el("span", h.title, "title"));
    const remove = el("button", "×", "remove");
    remove.title = "Remove";
    remove.onclick = () => { history.splice(history.indexOf(h), 1); renderHistory(); };
    li.append(remove);
    list.append(li);
  }
  $("#history-empty").hidden = history.length > 0;
}

function renderResults(items) {
  const list = $("#results");
  list.replaceChildren();
  for (const item of items) {
    const li = el("li");
    li.dataset.id = item.id;
    li.dataset.title = item.title;
    const like = el("button", "like", "like");
    const dislike = el("button", "dislike", "dislike");
    like.onclick = () => mark(item, true);
    dislike.onclick = () => mark(item, false);
    li.append(el("span", item.title, "title"), like, dislike);
    list.append(li);
  }
  if (!items.length) list.append(el("li", "No title holds that text.", "muted"));
}

let searchTimer = null;
let searchSeq = 0;

async function search() {
  const seq = ++searchSeq;
  const q = $("#q").value;
  try {
    const data = await api("GET", "v1/items?limit=20&q=" + encodeURIComponent(q));
    if (seq === searchSeq) { renderResults(data.items); $("#results").dataset.query = data.query; showError(""); }
  } catch (e) {
    showError(e.message);
  }
}

const fmt = (x) => (x === null || x === undefined ? "—" : Number(x).toFixed(3));

function cell(row, text, cls) {
  row.append(el("td", text, cls));
}

async function recommend() {
  showError("");
  $("#recommend").disabled = true;
  try {
    const data = await api("POST", "v1/recommend", {...user(), k: 10, ...adapter()});
    const body = $("#recs tbody");
    body.replaceChildren();
    data.items.forEach((x, i) => {
      const row = el("tr");
      Object.assign(row.dataset, {id: x.item.id, title: x.item.title, score: String(x.score),
                                  pYes: x.p_yes === null ? "" : String(x.p_yes), stage: x.stage});
      cell(row, String(i + 1), "num");
      cell(row, x.item.title);
      cell(row, fmt(x.score), "num");
      cell(row, x.stage);
      cell(row, fmt(x.p_yes), "num");
      cell(row, x.because.length ? x.because.join(", ") : "—", "because");
      body.append(row);
    });
    const how = data.adapter ? `adapter ${data.adapter}, ` : "";
    $("#recs-note").textContent = `${data.items.length} items, stage ${data.stage}` +
      (data.note ? ` (${data.note})` : "") + ` — ${how}${data.model}, ${Math.round(data.latency_ms)} ms`;
    $("#recs").dataset.count = String(data.items.length);
  } catch (e) {
    showError(e.message);
  } finally {
    $("#recommend").disabled = false;
  }
}

async function rank() {
  showError("");
  const candidates = $("#candidates").value.split("\n").map((t) => t.trim()).filter((t) => t);
  try {
    const data = await api("POST", "v1/rank", {...user(), candidates, ...adapter()});
    const body = $("#ranked tbody");
    body.replaceChildren();
    data.ranked.forEach((x, i) => {
      const row = el("tr");
      Object.assign(row.dataset, {title: x.item, pYes: String(x.p_yes), index: String(x.index)});
      cell(row, String(i + 1), "num");
      cell(row, x.item);
      cell(row, fmt(x.p_yes), "num");
      body.append(row);
    });
    $("#ranked").dataset.count = String(data.ranked.length);
  } catch (e) {
    showError(e.message);
  }
}

async function waitReady() {
  for (;;) {
    const r = await fetch("ready").catch(() => null);
    const data = r ? await r.json().catch(() => ({})) : {};
    if (r && r.ok) return data;
    if (data.status === "failed") throw new Error("the server failed to load: " + data.error);
    $("#status").textContent = "loading the model…";
    await new Promise((done) => setTimeout(done, 1000));
  }
}

async function start() {
  $("#q").addEventListener("input", () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 150); });
  $("#recommend").onclick = recommend;
  $("#rank").onclick = rank;
  $("#clear").onclick = () => { history.length = 0; renderHistory(); };
  $("#key").addEventListener("change", () => search());
  renderHistory();
  try {
    const ready = await waitReady();
    for (const name of ready.adapters) $("#adapter").append(new Option(name, name));
    $("#status").textContent = "ready";
    $("#status").dataset.ready = "true";
    await api("GET", "v1/items?limit=20").then((d) => renderResults(d.items));
  } catch (e) {
    if (e.status === 404) {
      $("#catalogue").hidden = true;
      showError(e.message + " (ranking your own candidates still works)");
    } else {
      showError(e.message);
    }
  }
}

start();
