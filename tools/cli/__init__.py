"""The `intentflow` command."""
from __future__ import annotations

import argparse
import os
import sys

# Before grpc is imported: the local stack restarts crashed services by fork+exec with a preexec_fn, and
# gRPC's fork handlers would make such a child abort (SIGABRT) before its exec.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")

import grpc

from intentflow.settings import ClientSettings, from_env

RIGHT_HELP = "with --outcome wrong_profile: the profile the post was really about (it learns the post)"


def _serve(args) -> int:
    import importlib
    importlib.import_module(f"services.{args.service}.app").main()
    return 0


def _config(args) -> int:
    from intentflow import topology
    from intentflow.settings import ClassifySettings, IngestSettings, MatchSettings, StackSettings, describe
    from tools.cli.tables import print_table
    if args.topics:
        print(topology.markdown_table())
        return 0
    rows = {}
    for cls in (IngestSettings, ClassifySettings, MatchSettings, ClientSettings, StackSettings):
        for row in describe(cls):
            rows.setdefault(row[0], row)
    if args.markdown:
        print("| variable | default | meaning |\n| --- | --- | --- |")
        for name, default, doc in rows.values():
            print(f"| `{name}` | `{default}` | {doc} |")
    else:
        print_table(("variable", "default", "meaning"), list(rows.values()))
    return 0


def _queue_args(p: argparse.ArgumentParser, profile: str) -> None:
    p.add_argument(f"--{profile}", action="append", help=f"{profile} id (repeatable)")
    p.add_argument("--lang", action="append", help="ru, uk, en (repeatable)")
    p.add_argument("--limit", type=int, default=10)
    p.add_argument("--owner", help="rep identity (default INTENTFLOW_REP or $USER)")
    p.add_argument("--json", action="store_true", help="one proto3-JSON object per line")


def _store_commands(sub) -> None:
    """Commands on the match store itself (INTENTFLOW_DATABASE_URL): retention, erasure, the audit log."""
    from tools.cli import store
    db_help = "the match store (default INTENTFLOW_DATABASE_URL)"
    st = sub.add_parser("store", help="the match store").add_subparsers(dest="action", required=True)
    p = st.add_parser("purge", help="remove posts older than the retention, with their leads, candidates, complaints")
    p.add_argument("--days", type=float, help="retention in days (default MATCH_RETENTION_DAYS)")
    p.add_argument("--database-url", help=db_help)
    p.set_defaults(func=store.purge)
    p = sub.add_parser("erase", help="remove one author's data from the store; tombstones for it on our topics")
    p.add_argument("--author", required=True, help="the author as posts name them")
    p.add_argument("--network", default="", help="only on this network (default: the name on every network)")
    p.add_argument("--dry-run", action="store_true", help="count what would be erased, change nothing")
    p.add_argument("--database-url", help=db_help)
    p.set_defaults(func=store.erase)
    p = sub.add_parser("audit", help="the audit log: who read or changed what, and erasures")
    p.add_argument("--token-id", help="only this token's calls")
    p.add_argument("--method", help="only this RPC or command, e.g. PullLeads or Erase")
    p.add_argument("--since", help="ISO time (UTC unless it has an offset), e.g. 2026-12-01T09:00")
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.add_argument("--database-url", help=db_help)
    p.set_defaults(func=store.audit)


def parser() -> argparse.ArgumentParser:
    from tools.cli import evaluation, queues, stack, tokens
    root = argparse.ArgumentParser(prog="intentflow", description=__doc__)
    sub = root.add_subparsers(dest="command", required=True)

    p = sub.add_parser("serve", help="run one service")
    p.add_argument("service", choices=("ingest", "classify", "match"))
    p.set_defaults(func=_serve)
    p = sub.add_parser("run", help="embedded broker + SQLite + the three services, until Ctrl-C")
    p.add_argument("--workdir", default="var")
    p.set_defaults(func=stack.run)
    p = sub.add_parser("demo", help="push the shipped sample through the embedded stack and print the results")
    p.add_argument("--file", default=str(stack.DEMO_POSTS))
    p.add_argument("--workdir", default="var")
    p.add_argument("--timeout", type=float, default=600)
    p.set_defaults(func=stack.demo)
    p = sub.add_parser("push", help="produce a JSONL file of posts into posts.raw")
    p.add_argument("file")
    p.add_argument("--topic")
    p.set_defaults(func=stack.push)
    p = sub.add_parser("config", help="print every environment variable with its default")
    p.add_argument("--markdown", action="store_true", help="as the README's configuration table")
    p.add_argument("--topics", action="store_true", help="the README's topic table (Markdown) instead")
    p.set_defaults(func=_config)
    tok = sub.add_parser("tokens", help="API tokens and their roles (INTENTFLOW_TOKENS_FILE)").add_subparsers(
        dest="action", required=True)
    p = tok.add_parser("create", help="create a token; it is printed once, only its hash is stored")
    p.add_argument("--role", required=True, choices=tokens.ROLES)
    p.add_argument("--name", required=True, help="who or what holds it, e.g. anna or crawler-vk")
    p.add_argument("--file", help="tokens file (default INTENTFLOW_TOKENS_FILE)")
    p.set_defaults(func=tokens.create)
    p = tok.add_parser("list", help="every token: id, role, name, created, revoked")
    p.add_argument("--file", help="tokens file (default INTENTFLOW_TOKENS_FILE)")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=tokens.list_tokens)
    p = tok.add_parser("revoke", help="revoke a token by id; the services refuse it from the next call")
    p.add_argument("id")
    p.add_argument("--file", help="tokens file (default INTENTFLOW_TOKENS_FILE)")
    p.set_defaults(func=tokens.revoke)
    _store_commands(sub)
    p = sub.add_parser("train", help="train the classifier from data/classify/train_*.jsonl")
    p.add_argument("--data", action="append", help="training JSONL (repeatable; default the shipped corpus)")
    p.add_argument("--out", help="model path (default INTENTFLOW_CLASSIFIER)")
    p.add_argument("--with-feedback", action="append", default=[], metavar="JSONL",
                   help="reps' and recruiters' outcomes exported by `intentflow feedback export` (repeatable)")
    p.set_defaults(func=evaluation.train_command)
    p = sub.add_parser("feedback", help="acked outcomes as labelled posts for retraining").add_subparsers(
        dest="action", required=True)
    p = p.add_parser("export", help="write won/contacted (positive) and not_a_lead (negative) posts as JSONL")
    p.add_argument("--out", required=True)
    p.set_defaults(func=queues.feedback_export)

    p = sub.add_parser("bench", help="benchmarks; writes bench/results/latest.json and prints a Markdown table")
    p.add_argument("--quick", action="store_true", help="about one minute instead of up to ten")
    p.add_argument("--posts", type=int, default=0, help="end-to-end posts (default 20000, quick 2000)")
    p.add_argument("--out", help="results file (default bench/results/latest.json; --scale-out: scale_out.json)")
    p.add_argument("--scale-out", action="store_true",
                   help="only the scale-out run: 1 classify + 1 match vs 2 + 2 processes (needs PostgreSQL)")
    p.add_argument("--corpus", choices=("real", "written"), default="real",
                   help="stream background: real public posts (data/real/chatter) or the hand-written corpora")
    p.add_argument("--prevalence", type=int, default=200,
                   help="real stream: one injected positive per N posts (default 200)")
    p.set_defaults(func=lambda a: __import__("tools.bench", fromlist=["main"]).main(a))

    ev = sub.add_parser("eval", help="evaluate the classifier or the matcher in-process").add_subparsers(
        dest="what", required=True)
    p = ev.add_parser("classify")
    p.add_argument("--data", required=True)
    p.add_argument("--baseline", choices=("keywords",))
    p.add_argument("--confusion", action="store_true", help="also print false positives per look-alike kind")
    p.add_argument("--reliability", action="store_true", help="also print calibration bins and ECE")
    p.set_defaults(func=evaluation.eval_classify)
    p = ev.add_parser("stream", help="flag rate and queue precision on real chatter, leave-one-source-out")
    p.add_argument("--chatter", action="append", help="background JSONL (repeatable; default data/real/chatter)")
    p.add_argument("--positives", action="append",
                   help="labelled JSONL whose positives are injected (default the dev split and data/real/signals)")
    p.add_argument("--prevalence", type=int, default=200, help="one injected positive per N posts, per signal")
    p.add_argument("--json", help="also write the figures to this file")
    p.add_argument("--queue-dump", help="write every queue item (gated) as JSON lines here, to read them")
    p.add_argument("--no-second-view", action="store_true",
                   help="gates without the e5 second view (the previous design), to compare")
    p.set_defaults(func=evaluation.eval_stream)
    p = ev.add_parser("prefilter", help="pass rate and recall of the cheap first stage")
    p.add_argument("--data", help="labelled JSONL scored with the trained first stage")
    p.add_argument("--loso", action="store_true",
                   help="leave-one-source-out over the real chatter: retrain without each source (minutes)")
    p.add_argument("--chatter", action="append",
                   help="with --loso: sources held out in turn (default data/real/chatter)")
    p.add_argument("--dev", action="append", help="with --loso: held-out positives (default the dev split)")
    p.add_argument("--sweep-c", type=float, nargs="+", metavar="C",
                   help="out-of-fold pass rate of the real background at 99/98/95 %% recall for each regularisation C")
    p.add_argument("--folds", type=int, default=5,
                   help="with --loso or --sweep-c: grouped folds that choose each threshold")
    p.add_argument("--json", help="with --loso: also write the figures to this file")
    p.set_defaults(func=evaluation.eval_prefilter)
    p = ev.add_parser("match", help="top-1 per kind, language and direction, and abstention, for any catalogue")
    p.add_argument("--profiles", required=True, help="catalogue file (JSON/YAML, as for `profiles import`)")
    p.add_argument("--data", default="data/match/dev.jsonl",
                   help="labelled posts with gold product/vacancy ids (default: the shipped dev split)")
    p.set_defaults(func=evaluation.eval_match)

    leads = sub.add_parser("leads", help="the sales queue").add_subparsers(dest="action", required=True)
    p = leads.add_parser("pull", help="lease the best available leads")
    _queue_args(p, "product")
    p.add_argument("--min-score", type=float, default=0.0)
    p.add_argument("--lease", type=int, default=0, help="lease seconds (default: service setting)")
    p.add_argument("--unmatched", action="store_true", help="also leads that matched no product")
    p.set_defaults(func=queues.leads_pull)
    for name, func in (("ack", queues.leads_ack), ("release", queues.leads_release)):
        p = leads.add_parser(name)
        p.add_argument("id")
        if name == "ack":
            p.add_argument("--outcome", required=True, choices=list(queues.OUTCOMES))
            p.add_argument("--note", default="")
            p.add_argument("--right-profile", default="", help=RIGHT_HELP)
        p.add_argument("--owner")
        p.add_argument("--json", action="store_true")
        p.set_defaults(func=func)
    p = leads.add_parser("list")
    _queue_args(p, "product")
    p.add_argument("--status", action="append", choices=("new", "leased", "contacted", "won", "lost", "not_a_lead",
                                                      "wrong_profile"))
    p.add_argument("--unmatched", action="store_true")
    p.set_defaults(func=queues.leads_list)
    p = leads.add_parser("funnel")
    p.add_argument("--product")
    p.add_argument("--days", type=float, default=0)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=queues.leads_funnel)

    cands = sub.add_parser("candidates", help="the HR queue and recruiter search").add_subparsers(
        dest="action", required=True)
    p = cands.add_parser("pull")
    _queue_args(p, "vacancy")
    p.add_argument("--min-score", type=float, default=0.0)
    p.add_argument("--lease", type=int, default=0)
    p.set_defaults(func=queues.candidates_pull)
    p = cands.add_parser("ack")
    p.add_argument("id")
    p.add_argument("--outcome", required=True, choices=list(queues.OUTCOMES))
    p.add_argument("--note", default="")
    p.add_argument("--right-profile", default="", help=RIGHT_HELP)
    p.add_argument("--owner")
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=queues.candidates_ack)
    p = cands.add_parser("search", help="semantic search over job-seeking posts")
    p.add_argument("query", nargs="?")
    p.add_argument("--vacancy", help="use a vacancy profile as the query")
    p.add_argument("--lang", action="append")
    p.add_argument("--location", action="append", help="word that must appear (repeatable)")
    p.add_argument("--days", type=float, default=0, help="only posts from the last N days")
    p.add_argument("--top", type=int, default=10)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=queues.candidates_search)

    comp = sub.add_parser("complaints", help="employer complaints").add_subparsers(dest="action", required=True)
    p = comp.add_parser("list")
    p.add_argument("--employer")
    p.add_argument("--days", type=float, default=0)
    p.add_argument("--limit", type=int, default=50)
    p.add_argument("--json", action="store_true")
    p.set_defaults(func=queues.complaints_list)

    prof = sub.add_parser("profiles", help="products, vacancies, employers").add_subparsers(
        dest="action", required=True)
    p = prof.add_parser("import", help="bulk import from JSON or YAML")
    p.add_argument("file")
    p.set_defaults(func=queues.profiles_import)
    return root


def main(argv: list[str] | None = None) -> None:
    args = parser().parse_args(argv)
    try:
        settings = from_env(ClientSettings)  # a wrong setting is reported like any other bad input
        code = args.func(args, settings) if args.func.__code__.co_argcount == 2 else args.func(args)
    except grpc.RpcError as exc:
        print(f"intentflow: {exc.code().name}: {exc.details()}", file=sys.stderr)
        code = 2
    except (ValueError, OSError, TimeoutError) as exc:
        print(f"intentflow: {exc}", file=sys.stderr)
        code = 2
    sys.exit(code or 0)


if __name__ == "__main__":
    main()
