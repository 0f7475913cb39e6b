"""Hypothesis entry point: registers strategies for the toolkit's types when hypothesis is imported."""


def _hypothesis_setup_hook() -> None:
    from hypothesis import strategies as st

    from programs import Int, Program, Seq

    from . import strategies

    st.register_type_strategy(Int, strategies.domains().filter(lambda d: isinstance(d, Int)))
    st.register_type_strategy(Seq, strategies.domains().filter(lambda d: isinstance(d, Seq)))
    st.register_type_strategy(Program, strategies.programs(inputs={"a": Int(0, 8), "b": Int(0, 8)}))
