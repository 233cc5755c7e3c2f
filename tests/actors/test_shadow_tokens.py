"""A syncer knows its own clientTokens by their number (`is_recent_token`): the same answer as
keeping the last `TOKENS_REMEMBERED` tokens it made, as it once did."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from actors.shadow import TOKENS_REMEMBERED, is_recent_token
from sim.small_queues import RecentItems

VEN = "ven-000042"  # a venId with a '-' in it, as a fleet's are


def _kept(made: int) -> RecentItems[str]:
    tokens: RecentItems[str] = RecentItems(TOKENS_REMEMBERED)
    for n in range(1, made + 1):
        tokens.append(f"{VEN}-{n}")
    return tokens


_numbers = st.integers(-3, 300).map(str) | st.sampled_from(
    ["007", "+7", " 7", "7 ", "٧", "²", "", "1e2", "0x10", "1_0"])
_tokens = st.one_of(
    st.builds(lambda n: f"{VEN}-{n}", _numbers),
    st.builds(lambda n: f"ven-000043-{n}", _numbers),
    st.builds(lambda n: f"{VEN}{n}", _numbers),
    st.text(max_size=20), st.none(), st.integers(), st.just(VEN))


@given(made=st.integers(0, 200), token=_tokens)
def test_a_token_is_recent_exactly_when_the_last_64_kept_would_hold_it(made: int,
                                                                      token: object) -> None:
    assert is_recent_token(token, VEN, made) == (token in _kept(made))


def test_the_oldest_of_the_window_is_still_known_and_the_one_before_it_not() -> None:
    made = TOKENS_REMEMBERED + 10
    assert is_recent_token(f"{VEN}-{made - TOKENS_REMEMBERED + 1}", VEN, made)
    assert not is_recent_token(f"{VEN}-{made - TOKENS_REMEMBERED}", VEN, made)
    assert not is_recent_token(f"{VEN}-{made + 1}", VEN, made)  # not made yet
