"""``docbus bench``: one run that measures docbus against plain aio-pika on the same machine.

Everything runs against the real servers on loopback: a fresh PostgreSQL database, a
fresh RabbitMQ virtual host, an embedded Valkey and ``docbus worker`` subprocesses, all
created for the run and removed at its end. Modules:

- ``config``: the sizes of a run (default, ``--full``, the smoke test's tiny one);
- ``loops``: the one event loop of the worker, the raw baselines and the bench's clients;
- ``stats``: latency percentiles and the bounded request loops every measurement uses;
- ``paired``: paired repetitions; each ratio their median, with its minimum and maximum;
- ``infra``: the servers and processes of a run (vhost, database, Valkey, workers);
- ``raw``: the aio-pika baselines (a consume-publish-ack loop and an RPC responder, each
  in a process of its own) and a minimal raw RPC client;
- ``rpc``: request-reply rates of the raw client, FastStream's ``broker.request`` and the
  docbus client against the same raw responder;
- ``events``: a tap on an events exchange that waits for given events;
- ``seed``: bulk rows straight into PostgreSQL (big folders, a big store);
- ``docbus_bench``: the scenario, uploads, shares, store size, memory and two workers,
  through the docbus client;
- ``queries``: listings, gets and folder size, each beside the raw RPC reference;
- ``report``: the ratios, the targets, the tables and the one JSON line;
- ``chart``: the PNG chart (a temporary directory unless ``--chart PATH``);
- ``runner``: the order of the phases and the clean-up.
"""
