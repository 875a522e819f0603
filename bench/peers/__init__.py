"""The servers and scripts the bench measures langstar against, kept in the repo.

Each file here is loaded by path, as the peer it stands for loads it, never imported
from the `bench` package: `langstar serve` and `langgraph dev` read the graphs from their
files, uvicorn finds the seed app with `--app-dir`, and the rest run as scripts. The bench
reads another folder holding files of the same names instead when LANGSTAR_BENCH_PEERS
names one.

- `bench_graph.py`: the throughput workload, one chat node with a fixed offline reply;
- `stream_graph.py`: the streaming workloads, `fast` and `slow`;
- `seed_app.py`: the naive FastAPI pattern every figure is a ratio to;
- `wait.lua`: the `wrk` script, one run per request on a fresh thread;
- `stream_probe.py`: time to the first token, then many slow streams at once;
- `inprocess_limit.py`: the ceiling, `graph.ainvoke` with no HTTP at all.
"""
