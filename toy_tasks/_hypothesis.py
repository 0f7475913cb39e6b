"""Hypothesis entry point: registers strategies for the toolkit's types when hypothesis is imported.

Registration is lazy (a function of the requested type): this hook may run while
``toy_tasks.strategies`` itself is still being imported, so nothing is looked up until a draw.
"""


def _hypothesis_setup_hook() -> None:
    from hypothesis import strategies as st

    from programs import Int, Program, Seq

    def _strategies():
        from . import strategies

        return strategies

    st.register_type_strategy(Int, lambda _: _strategies().int_domains())
    st.register_type_strategy(Seq, lambda _: _strategies().seq_domains())
    st.register_type_strategy(Program, lambda _: _strategies().programs(inputs={"a": Int(0, 8), "b": Int(0, 8)}))
