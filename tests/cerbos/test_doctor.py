"""``docbus doctor`` with DOCBUS_ACCESS_DECIDER=cerbos checks that Cerbos answers."""

from __future__ import annotations

from docbus.devtools.embedded_cerbos import EmbeddedCerbos, free_port
from docbus.ops.doctor import cerbos_probe, run_checks


async def test_the_doctor_says_whether_cerbos_answers(cerbos_server: EmbeddedCerbos) -> None:
    up, down = await run_checks([cerbos_probe(cerbos_server.address),
                                 cerbos_probe(f"127.0.0.1:{free_port()}")])
    assert up.ok and "Cerbos 0.55.0" in up.detail, up
    assert not down.ok and "UNAVAILABLE" in down.detail and down.required, down
