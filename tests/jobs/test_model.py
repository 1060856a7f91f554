"""Task states and their transitions, checked against the rules written out by hand here."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from huajia.errors import IllegalTransition
from huajia.jobs.model import Priority, TaskState, can_transition, check_transition

P, R, C, F, X = (TaskState.PENDING, TaskState.PROCESSING, TaskState.COMPLETED,
                 TaskState.FAILED, TaskState.CANCELED)  # fmt: skip
# The product's rules, spelled out independently of the implementation's table.
LEGAL = {(P, R), (P, X), (P, F), (R, C), (R, F), (R, X), (R, P)}


def test_state_names_are_the_ones_clients_check() -> None:
    assert [state.value for state in TaskState] == [
        "pending", "processing", "completed", "failed", "canceled"
    ]  # fmt: skip


@pytest.mark.parametrize("current", list(TaskState))
@pytest.mark.parametrize("target", list(TaskState))
def test_every_pair_follows_the_rules(current: TaskState, target: TaskState) -> None:
    if (current, target) in LEGAL:
        check_transition(current, target)
    else:
        with pytest.raises(IllegalTransition, match=f"{current.value}.*{target.value}"):
            check_transition(current, target)


def test_terminal_states() -> None:
    assert {state for state in TaskState if state.terminal} == {C, F, X}


def test_priorities_run_high_first() -> None:
    assert sorted(Priority, key=lambda p: p.rank) == [Priority.HIGH, Priority.NORMAL, Priority.LOW]


class TaskLife(RuleBasedStateMachine):
    """Random walks through the states: legal moves succeed, others raise and change nothing."""

    def __init__(self) -> None:
        super().__init__()
        self.state = P
        self.history = [P]

    @rule(goal=st.sampled_from(list(TaskState)))
    def move(self, goal: TaskState) -> None:
        legal = (self.state, goal) in LEGAL
        assert can_transition(self.state, goal) is legal
        if legal:
            check_transition(self.state, goal)
            self.state = goal
            self.history.append(goal)
        else:
            with pytest.raises(IllegalTransition):
                check_transition(self.state, goal)

    @invariant()
    def terminal_states_are_final(self) -> None:
        terminal_at = [i for i, state in enumerate(self.history) if state in {C, F, X}]
        assert terminal_at in ([], [len(self.history) - 1])
        assert self.state.terminal == bool(terminal_at)


TestTaskLife = TaskLife.TestCase
