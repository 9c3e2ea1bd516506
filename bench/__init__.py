"""``docbus bench``: one run that measures docbus against plain aio-pika on the same machine.

Everything runs against the real servers on loopback: a fresh PostgreSQL database, a
fresh RabbitMQ virtual host, an embedded Valkey and ``docbus worker`` subprocesses, all
created for the run and removed at its end. Modules:

- ``config``: the sizes of a run (default, ``--full``, the smoke test's tiny one);
- ``stats``: latency percentiles and the bounded request loops every measurement uses;
- ``infra``: the servers and processes of a run (vhost, database, Valkey, workers);
- ``raw``: the aio-pika baselines (a consume-publish-ack loop and an RPC responder, each
  in a process of its own) and a minimal raw RPC client;
- ``rpc``: request-reply rates of the raw client, FastStream's ``broker.request`` and the
  docbus client against the same raw responder;
- ``events``: a tap on an events exchange that waits for given events;
- ``seed``: bulk rows straight into PostgreSQL (big folders, a big store);
- ``docbus_bench``: uploads, shares, listings, gets, folder size, store size, memory and
  two workers, through the docbus client;
- ``report``: the ratios, the table, the PNG chart and the one JSON line;
- ``runner``: the order of the phases and the clean-up.
"""
