import torch

from tallrec.llm.packing import pack_batches, packed_inputs


def test_pack_batches_respects_rows_and_tokens():
    lengths = [3, 5, 2, 7, 1]
    assert pack_batches(list(range(5)), lengths, max_rows=2, max_tokens=100) == [[0, 1], [2, 3], [4]]
    assert pack_batches(list(range(5)), lengths, max_rows=10, max_tokens=8) == [[0, 1], [2], [3, 4]]
    assert pack_batches([3], lengths, max_rows=1, max_tokens=2) == [[3]]  # a long suffix alone


def test_packed_inputs_mask_positions_and_last_tokens():
    ids, pos, mask, last = packed_inputs([[7, 8], [9, 10, 11]], plen=4, device="cpu", dtype=torch.float32)
    assert ids.tolist() == [[7, 8, 9, 10, 11]]
    assert pos.tolist() == [[4, 5, 4, 5, 6]]
    assert last.tolist() == [1, 4]
    seen = (mask[0, 0] == 0).int()
    assert seen[:, :4].all()  # every suffix token sees the whole prefix
    assert seen[:, 4:].tolist() == [[1, 0, 0, 0, 0], [1, 1, 0, 0, 0],
                                    [0, 0, 1, 0, 0], [0, 0, 1, 1, 0], [0, 0, 1, 1, 1]]
