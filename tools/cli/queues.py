"""Rep and recruiter commands over the MatchService API: leads, candidates, complaints, profiles."""
from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime

from intentflow import auth
from intentflow.settings import ClientSettings
from intentflow.v1 import match_pb2, match_pb2_grpc, signals_pb2
from intentflow.wire import timestamp
from services.match import convert
from services.match.matching.catalog import load_catalog
from tools.cli.tables import clip, print_json, print_table

OUTCOMES = convert.OUTCOME_TO_PROTO


def channel(settings: ClientSettings, address: str):
    """A channel to a service: TLS when INTENTFLOW_TLS_CA is set, with the token of INTENTFLOW_TOKEN or
    INTENTFLOW_TOKEN_FILE when one is."""
    return auth.channel(address, settings.tls_ca, auth.read_token(settings.token, settings.token_file),
                        settings.tls_cert, settings.tls_key)


def stub(settings: ClientSettings) -> match_pb2_grpc.MatchServiceStub:
    return match_pb2_grpc.MatchServiceStub(channel(settings, settings.match_address))


def rep(args, settings: ClientSettings) -> str:
    """The owner to send: --owner, else none with a token (the service takes the token's id as owner),
    else INTENTFLOW_REP or $USER (auth off)."""
    if args.owner:
        return args.owner
    if auth.read_token(settings.token, settings.token_file):
        return ""
    return settings.rep or getpass.getuser()


def _when(ts) -> str:
    return datetime.fromtimestamp(ts.seconds, UTC).strftime("%Y-%m-%d %H:%M") if ts.seconds else ""


def _queue_rows(items, profile_field: str, probability_field: str):
    return [(getattr(i, profile_field) or "(unmatched)", i.lead_id if hasattr(i, "lead_id") else i.candidate_id,
             f"{i.priority:.2f}", f"{getattr(i, probability_field):.2f}", f"{i.match_score:.2f}", i.post.lang,
             _when(i.post.created_at), clip(i.post.text, 70), clip(_why(i.evidence), 60)) for i in items]


def _why(evidence) -> str:
    """The match evidence of a queue item (keywords found, nearest profile view or example post)."""
    lines = [e for e in evidence if e.startswith(("keywords:", "nearest:"))]
    return "; ".join(lines)


def print_leads(leads, as_json: bool) -> None:
    if as_json:
        return print_json(leads)
    print_table(("product", "lead", "priority", "intent", "score", "lang", "posted", "text", "why"),
                _queue_rows(leads, "product_id", "intent_probability"))


def print_candidates(candidates, as_json: bool) -> None:
    if as_json:
        return print_json(candidates)
    print_table(("vacancy", "candidate", "priority", "p(job)", "score", "lang", "posted", "text", "why"),
                _queue_rows(candidates, "vacancy_id", "job_seeking_probability"))


def leads_pull(args, settings):
    response = stub(settings).PullLeads(match_pb2.PullLeadsRequest(
        owner=rep(args, settings), product_ids=args.product or [], languages=args.lang or [], limit=args.limit,
        min_score=args.min_score, lease_seconds=args.lease, include_unmatched=args.unmatched))
    print_leads(response.leads, args.json)


def leads_ack(args, settings):
    lead = stub(settings).AckLead(match_pb2.AckRequest(id=args.id, owner=rep(args, settings),
                                                       outcome=OUTCOMES[args.outcome], note=args.note,
                                                       right_profile_id=args.right_profile))
    print_leads([lead], args.json)


def leads_release(args, settings):
    print_leads([stub(settings).ReleaseLead(match_pb2.ReleaseRequest(id=args.id, owner=rep(args, settings)))],
                args.json)


def leads_list(args, settings):
    statuses = [convert.STATUS_TO_PROTO[s] for s in args.status or []]
    response = stub(settings).ListLeads(match_pb2.ListQueueRequest(
        profile_ids=args.product or [], statuses=statuses, languages=args.lang or [], page_size=args.limit,
        include_unmatched=args.unmatched))
    print_leads(response.leads, args.json)


def leads_funnel(args, settings):
    request = match_pb2.GetFunnelRequest(product_id=args.product or "")
    if args.days:
        request.since.CopyFrom(timestamp(datetime.now(UTC).timestamp() - args.days * 86400))
    funnel = stub(settings).GetFunnel(request)
    if args.json:
        return print_json([funnel])
    print_table(("product", "leads", "contacted", "won", "lost", "not_a_lead", "rep_precision"),
                [(funnel.product_id or "(all)", funnel.leads, funnel.contacted, funnel.won, funnel.lost,
                  funnel.not_a_lead, f"{funnel.rep_precision:.2f}")])


def candidates_pull(args, settings):
    response = stub(settings).PullCandidates(match_pb2.PullCandidatesRequest(
        owner=rep(args, settings), vacancy_ids=args.vacancy or [], languages=args.lang or [], limit=args.limit,
        min_score=args.min_score, lease_seconds=args.lease))
    print_candidates(response.candidates, args.json)


def candidates_ack(args, settings):
    candidate = stub(settings).AckCandidate(match_pb2.AckRequest(
        id=args.id, owner=rep(args, settings), outcome=OUTCOMES[args.outcome], note=args.note,
        right_profile_id=args.right_profile))
    print_candidates([candidate], args.json)


def candidates_search(args, settings):
    request = match_pb2.SearchCandidatesRequest(query=args.query or "", vacancy_id=args.vacancy or "",
                                                languages=args.lang or [], location_words=args.location or [],
                                                top_k=args.top)
    if args.days:
        request.since.CopyFrom(timestamp(datetime.now(UTC).timestamp() - args.days * 86400))
    hits = stub(settings).SearchCandidates(request).hits
    if args.json:
        return print_json(hits)
    print_table(("score", "p(job)", "lang", "posted", "author", "text"),
                [(f"{h.score:.3f}", f"{h.candidate.job_seeking_probability:.2f}", h.candidate.post.lang,
                  _when(h.candidate.post.created_at), h.candidate.post.author, clip(h.candidate.post.text, 80))
                 for h in hits])


def complaints_list(args, settings):
    request = match_pb2.ListComplaintsRequest(employer_id=args.employer or "", limit=args.limit)
    if args.days:
        request.since.CopyFrom(timestamp(datetime.now(UTC).timestamp() - args.days * 86400))
    complaints = stub(settings).ListComplaints(request).complaints
    if args.json:
        return print_json(complaints)
    print_table(("employer", "p", "lang", "posted", "text"),
                [(c.employer_id or "(unknown)", f"{c.probability:.2f}", c.post.lang, _when(c.post.created_at),
                  clip(c.post.text, 90)) for c in complaints])


def profiles_import(args, settings):
    catalog = load_catalog(args.file)
    client = stub(settings)
    for product in catalog.products:
        client.UpsertProduct(convert.product_to_proto(product))
    for vacancy in catalog.vacancies:
        client.UpsertVacancy(convert.vacancy_to_proto(vacancy))
    for employer in catalog.employers:
        client.UpsertEmployer(convert.employer_to_proto(employer))
    print(f"imported {len(catalog.products)} products, {len(catalog.vacancies)} vacancies, "
          f"{len(catalog.employers)} employers from {args.file}", file=sys.stderr)


# Outcomes that say whether the classifier was right: a lead a rep contacted or won was purchase intent,
# one marked not_a_lead was not (a lost lead says nothing about the post).
FEEDBACK_STATUSES = {signals_pb2.QUEUE_STATUS_CONTACTED: True, signals_pb2.QUEUE_STATUS_WON: True,
                     signals_pb2.QUEUE_STATUS_NOT_A_LEAD: False}


def _feedback_rows(items, signal: str, id_field: str):
    for item in items:
        correct = FEEDBACK_STATUSES.get(item.status)
        if correct is None or not item.post.text.strip():
            continue
        yield {"id": f"feedback-{getattr(item, id_field)}", "text": item.post.text, "lang": item.post.lang,
               "labels": [signal] if correct else [], "kind": signal if correct else f"not_{signal}",
               "source": "feedback", "network": item.post.network, "label_method": "outcome"}


def feedback_export(args, settings) -> int:
    """Acked leads and candidates as labelled posts for `intentflow train --with-feedback`."""
    import json
    client, statuses = stub(settings), list(FEEDBACK_STATUSES)
    rows = []
    for method, field, signal, id_field in (("ListLeads", "leads", "purchase_intent", "lead_id"),
                                            ("ListCandidates", "candidates", "job_seeking", "candidate_id")):
        token = None
        while token != "":
            response = getattr(client, method)(match_pb2.ListQueueRequest(
                statuses=statuses, include_unmatched=True, page_size=500, page_token=token or ""))
            rows += _feedback_rows(getattr(response, field), signal, id_field)
            token = response.next_page_token
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    print(f"wrote {len(rows)} labelled posts to {args.out}", file=sys.stderr)
    return 0
