"""The ACT / deep-supervision wrapper: refilling halted slots, the halting rule, the Q-learning target."""
from __future__ import annotations

import pytest
import torch

from hrm_minimal.config import HRMConfig
from hrm_minimal.model import HRM


def make_model(halt_max_steps=3, explore=0.0, q_bias=(-5.0, -5.0), **kw) -> HRM:
    """Tiny HRM whose Q head outputs the constant logits q_bias = (halt, continue) for every slot."""
    torch.manual_seed(0)
    cfg = HRMConfig(vocab_size=5, seq_len=4, hidden_size=16, num_heads=2, expansion=1.0, H_layers=1,
                    L_layers=1, H_cycles=1, L_cycles=2, halt_max_steps=halt_max_steps,
                    halt_exploration_prob=explore, **kw)
    model = HRM(cfg)
    with torch.no_grad():
        model.inner.q_head.bias.copy_(torch.tensor(q_bias))
    return model


def make_batch(batch_size=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return {"inputs": torch.randint(0, 5, (batch_size, 4), generator=g),
            "labels": torch.randint(0, 5, (batch_size, 4), generator=g)}


def test_first_call_loads_every_row():
    model = make_model().train()
    batch = make_batch()
    carry = model.initial_carry(batch)
    assert carry.halted.all() and (carry.steps == 0).all()
    carry, _ = model(carry, batch)
    assert torch.equal(carry.current_data["inputs"], batch["inputs"])
    assert torch.equal(carry.current_data["labels"], batch["labels"])
    assert carry.steps.tolist() == [1, 1, 1, 1]


def test_training_halts_at_max_steps_when_q_says_continue():
    model = make_model(halt_max_steps=3).train()  # q_halt == q_continue: never "halt > continue"
    batch = make_batch()
    carry = model.initial_carry(batch)
    seen = []
    for i in range(4):
        carry, out = model(carry, make_batch(seed=i))
        seen.append((carry.steps.tolist(), carry.halted.tolist()))
        assert "target_q_continue" in out
    assert seen[0] == ([1] * 4, [False] * 4)
    assert seen[1] == ([2] * 4, [False] * 4)
    assert seen[2] == ([3] * 4, [True] * 4)
    assert seen[3] == ([1] * 4, [False] * 4)  # restarted on the 4th batch
    assert torch.equal(carry.current_data["inputs"], make_batch(seed=3)["inputs"])


def test_training_halts_when_q_halt_beats_q_continue():
    model = make_model(halt_max_steps=5, q_bias=(5.0, -5.0)).train()
    batch = make_batch()
    carry, _ = model(model.initial_carry(batch), batch)
    assert carry.halted.all() and carry.steps.tolist() == [1] * 4


def test_exploration_forbids_halting_before_a_random_minimum():
    B, max_steps = 64, 5
    model = make_model(halt_max_steps=max_steps, explore=1.0, q_bias=(5.0, -5.0)).train()  # Q: halt now
    gen, replay = torch.Generator().manual_seed(7), torch.Generator().manual_seed(7)
    batch = make_batch(B)
    carry = model.initial_carry(batch)
    steps = torch.zeros(B, dtype=torch.int32)
    halted_at = []
    for _ in range(8):
        steps = torch.where(carry.halted, 0, steps) + 1
        carry, _ = model(carry, batch, generator=gen)
        explore = torch.rand(B, generator=replay) < 1.0  # the same draws, in the same order
        min_steps = torch.randint(2, max_steps + 1, (B,), generator=replay)
        expected = steps >= min_steps * explore  # Q says halt; only the minimum holds it back
        assert torch.equal(carry.halted, expected)
        assert torch.equal(carry.steps, steps)
        halted_at += steps[carry.halted].tolist()
    assert 1 not in halted_at  # never halts at step 1 under exploration
    assert {2, 3, 4, 5} <= set(halted_at)


def test_exploration_is_reproducible_with_the_global_seed():
    runs = []
    for _ in range(2):
        model = make_model(halt_max_steps=6, explore=0.5, q_bias=(5.0, -5.0)).train()
        torch.manual_seed(11)
        batch = make_batch(32)
        carry = model.initial_carry(batch)
        flags = []
        for _ in range(4):
            carry, _ = model(carry, batch)
            flags.append(carry.halted.clone())
        runs.append(torch.stack(flags))
    assert torch.equal(runs[0], runs[1])
    assert 0 < runs[0][0].sum() < 32  # some explore (held back), some halt at step 1


@pytest.mark.parametrize("max_steps,expected_segments", [(None, 3), (6, 6), (1, 1)])
def test_eval_runs_every_sequence_to_max_steps_ignoring_q(max_steps, expected_segments):
    model = make_model(halt_max_steps=3, explore=1.0, q_bias=(5.0, -5.0)).eval()  # Q says halt
    batch = make_batch()
    carry = model.initial_carry(batch)
    segments = 0
    with torch.no_grad():
        while True:
            carry, out = model(carry, batch, max_steps=max_steps)
            segments += 1
            assert "target_q_continue" not in out
            if carry.halted.all():
                break
            assert not carry.halted.any()  # all slots halt together
    assert segments == expected_segments
    assert carry.steps.tolist() == [expected_segments] * 4


def test_halt_max_steps_one_always_halts_without_q_target():
    model = make_model(halt_max_steps=1).train()
    batch = make_batch()
    carry, out = model(model.initial_carry(batch), batch)
    assert carry.halted.all() and "target_q_continue" not in out


def test_only_halted_slots_take_new_data_and_reset():
    model = make_model(halt_max_steps=10).train()
    first, second = make_batch(seed=0), make_batch(seed=1)
    carry, _ = model(model.initial_carry(first), first)
    carry.halted = torch.tensor([True, False, True, False])
    old_z = carry.inner_carry.z_H.clone()
    reset = model.inner.reset_carry(carry.halted, carry.inner_carry)
    for i, h in enumerate(carry.halted.tolist()):
        expected_H = model.inner.H_init.expand_as(old_z[i]) if h else old_z[i]
        expected_L = model.inner.L_init.expand_as(old_z[i]) if h else carry.inner_carry.z_L[i]
        assert torch.equal(reset.z_H[i], expected_H) and torch.equal(reset.z_L[i], expected_L)
    carry, _ = model(carry, second)
    for i, h in enumerate([True, False, True, False]):
        source = second if h else first
        assert torch.equal(carry.current_data["inputs"][i], source["inputs"][i])
        assert torch.equal(carry.current_data["labels"][i], source["labels"][i])
    assert carry.steps.tolist() == [1, 2, 1, 2]


def test_refill_restarts_halted_slots_and_keeps_the_others():
    model = make_model(halt_max_steps=10).train()
    first, second = make_batch(seed=0), make_batch(seed=1)
    carry, _ = model(model.initial_carry(first), first)
    carry.halted = torch.tensor([False, True, False, True])
    inner, steps, data = model.refill(carry, second)
    for i, h in enumerate(carry.halted.tolist()):
        want_H = model.inner.H_init.expand_as(inner.z_H[i]) if h else carry.inner_carry.z_H[i]
        want_L = model.inner.L_init.expand_as(inner.z_L[i]) if h else carry.inner_carry.z_L[i]
        assert torch.equal(inner.z_H[i], want_H) and torch.equal(inner.z_L[i], want_L)
        assert int(steps[i]) == (0 if h else 1)
        for key in ("inputs", "labels"):
            assert torch.equal(data[key][i], (second if h else first)[key][i])


def test_q_continue_target_arithmetic():
    model = make_model(halt_max_steps=3).train()
    with torch.no_grad():
        model.inner.q_head.weight.normal_(0, 1.0)  # slot-dependent Q logits
    batch = make_batch(8, seed=3)
    carry, _ = model(model.initial_carry(batch), batch)  # steps 1 everywhere
    carry.halted = torch.zeros(8, dtype=torch.bool)
    carry.steps = torch.tensor([0, 1, 2, 2, 1, 0, 2, 1], dtype=torch.int32)  # +1 -> 3 is the last step
    new, out = model(carry, batch)
    with torch.no_grad():
        _, _, (next_halt, next_cont) = model.inner(new.inner_carry, new.current_data)
    is_last = new.steps >= 3
    assert is_last.tolist() == [False, False, True, True, False, False, True, False]
    for i in range(8):
        raw = next_halt[i] if is_last[i] else torch.maximum(next_halt[i], next_cont[i])
        torch.testing.assert_close(out["target_q_continue"][i], torch.sigmoid(raw))
    # the test is only meaningful if "max" picks continue somewhere and it matters at a last step
    assert (next_cont > next_halt)[~is_last].any()
    assert (next_cont > next_halt)[is_last].any()


def test_q_continue_target_takes_the_best_next_value_except_at_the_last_step():
    from hrm_minimal.model import q_continue_target

    halt, cont = torch.tensor([0.0, 2.0, -1.0, 3.0]), torch.tensor([1.0, -2.0, 4.0, 5.0])
    last = torch.tensor([False, False, True, True])
    want = torch.sigmoid(torch.tensor([1.0, 2.0, -1.0, 3.0]))
    torch.testing.assert_close(q_continue_target(halt, cont, last), want)


def test_halt_decision_uses_the_q_head_only_in_training():
    model = make_model(halt_max_steps=4, q_bias=(1.0, -1.0))  # Q says halt everywhere
    steps = torch.tensor([1, 2, 3, 4])
    q_halt, q_cont = torch.ones(4), -torch.ones(4)
    assert model.eval().halt_decision(steps, q_halt, q_cont, 4).tolist() == [False, False, False, True]
    assert model.train().halt_decision(steps, q_halt, q_cont, 4).tolist() == [True] * 4  # no exploration
    assert model.train().halt_decision(steps, -q_halt, -q_cont, 4).tolist() == [False, False, False, True]


def test_without_act_continue_one_segment_runs_and_q_halt_above_zero_stops():
    """act_continue=False (TRM's shortcut): no extra segment, no continue target, halt where Q_halt > 0."""
    calls = []
    for q_bias, halts in [((0.5, 5.0), True), ((-0.5, -5.0), False)]:  # HRM's rule would say the opposite
        model = make_model(halt_max_steps=5, q_bias=q_bias, act_continue=False).train()
        hook = model.inner.register_forward_hook(lambda *_: calls.append(1))
        batch = make_batch()
        carry, out = model(model.initial_carry(batch), batch)
        hook.remove()
        assert "target_q_continue" not in out
        assert carry.halted.tolist() == [halts] * 4
        hrm = make_model(halt_max_steps=5, q_bias=q_bias).train()  # the same logits under HRM's rule
        assert hrm(hrm.initial_carry(batch), batch)[0].halted.tolist() == [not halts] * 4
    assert len(calls) == 2  # one inner segment per call, where HRM runs two


def test_evaluate_counts_q_halts_by_the_models_own_rule():
    from hrm_minimal.data.puzzle_set import PuzzleSet
    from hrm_minimal.evaluate import evaluate

    g = torch.Generator().manual_seed(0)
    puzzles = PuzzleSet(name="toy", kind="maze", inputs=torch.randint(1, 5, (6, 4), generator=g).numpy(),
                        labels=torch.randint(1, 5, (6, 4), generator=g).numpy(), vocab_size=5, seq_len=4,
                        grid_size=2, box=None)
    for act_continue, expected in [(True, 3.0), (False, 1.0)]:  # Q_halt 0.5 < Q_continue 5 but > 0
        model = make_model(halt_max_steps=3, q_bias=(0.5, 5.0), act_continue=act_continue)
        assert evaluate(model, puzzles, progress=False)["mean_segments"] == expected


def test_act_continue_must_be_a_bool():
    with pytest.raises(TypeError, match="act_continue must be a bool"):
        make_model(act_continue="no")


def test_evaluate_per_puzzle_records_agree_with_its_totals():
    from hrm_minimal.data.puzzle_set import PuzzleSet
    from hrm_minimal.evaluate import evaluate

    g = torch.Generator().manual_seed(1)
    inputs = torch.randint(1, 5, (7, 4), generator=g)
    labels = inputs.clone()
    labels[:2] = -100  # nothing scored: these two count as solved after every segment
    puzzles = PuzzleSet(name="toy", kind="maze", inputs=inputs.numpy(), labels=labels.numpy(), vocab_size=5,
                        seq_len=4, grid_size=2, box=None)
    model = make_model(halt_max_steps=3)
    with torch.no_grad():  # Q logits that differ from puzzle to puzzle, so halting steps differ
        model.inner.q_head.weight.normal_(0, 2.0, generator=g)
    r = evaluate(model, puzzles, batch_size=3, max_steps=5, progress=False, per_puzzle=True)
    assert r["solved"].shape == r["q_halt"].shape == r["q_continue"].shape == (7, 5)
    assert r["halt_step"].shape == (7,) and len(set(r["halt_step"].tolist())) > 1
    assert r["solved"][:2].all() and not r["solved"][2:].all()
    assert r["solved"].mean(0).tolist() == pytest.approx(r["exact_by_segment"])
    assert r["halt_step"].mean() == pytest.approx(r["mean_segments"])
    says = r["q_halt"] > r["q_continue"]  # the first segment where the Q head says halt, else the last
    first = [next((k + 1 for k in range(4) if row[k]), 5) for row in says]
    assert r["halt_step"].tolist() == first
    at_halt = r["solved"][range(7), r["halt_step"] - 1]
    assert at_halt.mean() == pytest.approx(r["exact_at_q_halt"])
    assert "halt_step" not in evaluate(model, puzzles, max_steps=5, progress=False)


def test_solve_stops_each_puzzle_where_the_q_head_first_says_halt():
    from hrm_minimal.data.puzzle_set import PuzzleSet
    from hrm_minimal.evaluate import evaluate, solve

    g = torch.Generator().manual_seed(2)
    inputs = torch.randint(1, 5, (9, 4), generator=g)
    model = make_model(halt_max_steps=3).train()
    with torch.no_grad():
        model.inner.q_head.weight.normal_(0, 2.0, generator=g)
    answers, segments = solve(model, inputs, max_steps=6)
    assert model.training, "solve leaves the model's mode as it was"
    puzzles = PuzzleSet(name="toy", kind="maze", inputs=inputs.numpy(), labels=inputs.numpy(), vocab_size=5,
                        seq_len=4, grid_size=2, box=None)
    r = evaluate(model, puzzles, max_steps=6, progress=False, per_puzzle=True)
    assert segments.tolist() == r["halt_step"].tolist() and len(set(segments.tolist())) > 1
    model.eval()  # the answer of each puzzle is the one after its own last segment
    carry, batch = model.initial_carry({"inputs": inputs}), {"inputs": inputs}
    for m in range(1, 7):
        carry, out = model(carry, batch, max_steps=6)
        here = segments == m
        assert torch.equal(answers[here], out["logits"].argmax(-1)[here])
    assert solve(model, inputs, max_steps=1)[1].tolist() == [1] * 9
    with pytest.raises(ValueError, match="max_steps must be a positive int"):
        solve(model, inputs, max_steps=0)
