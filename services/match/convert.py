"""Store models <-> wire messages."""
from __future__ import annotations

from typing import TYPE_CHECKING

from intentflow.v1 import match_pb2, post_pb2, profiles_pb2, signals_pb2
from intentflow.wire import post_id, post_key, seconds, split_post_id, timestamp
from services.match.store.models import (
    KIND_CANDIDATE,
    KIND_LEAD,
    OUTCOMES,
    STATUSES,
    Complaint,
    Employer,
    PostRef,
    Product,
    QueueItem,
    Vacancy,
)

if TYPE_CHECKING:  # the CLI imports this module too and should not pay for loading FAISS
    from services.match.candidates import CandidateHit

# The proto enums spell the store's status names in capitals, so the mappings are derived from the store's
# constants; a status the proto lacks fails here, at import, instead of on the first message that has it.
STATUS_TO_PROTO = {s: signals_pb2.QueueStatus.Value(f"QUEUE_STATUS_{s.upper()}") for s in STATUSES}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
OUTCOME_TO_PROTO = {o: match_pb2.Outcome.Value(f"OUTCOME_{o.upper()}") for o in OUTCOMES}
OUTCOME_FROM_PROTO = {v: k for k, v in OUTCOME_TO_PROTO.items()}
# Lead and CandidateSignal share one shape; only these field names differ.
_QUEUE_FIELDS = {
    KIND_LEAD: (signals_pb2.Lead, "lead_id", "product_id", "intent_probability"),
    KIND_CANDIDATE: (signals_pb2.CandidateSignal, "candidate_id", "vacancy_id", "job_seeking_probability"),
}


def post_ref(post: post_pb2.Post) -> PostRef:
    return PostRef(post_id=post_key(post), network=post.network, author=post.author, url=post.url,
                   text=post.text, lang=post.lang, created_at=seconds(post.created_at),
                   parent_id=post_id(post.network, post.parent_id) if post.parent_id else "")


def to_post(ref: PostRef) -> post_pb2.Post:
    network, native_id = split_post_id(ref.post_id)
    return post_pb2.Post(id=native_id or ref.post_id, network=ref.network or network, author=ref.author,
                         url=ref.url, text=ref.text, lang=ref.lang, created_at=timestamp(ref.created_at),
                         parent_id=split_post_id(ref.parent_id)[1] if ref.parent_id else "")


def queue_message(item: QueueItem):
    cls, id_field, profile_field, probability_field = _QUEUE_FIELDS[item.kind]
    message = cls(post=to_post(item.post), match_score=item.match_score, priority=item.priority,
                  evidence=item.evidence, status=STATUS_TO_PROTO[item.status], lease_owner=item.lease_owner,
                  related_post_ids=item.related_post_ids, detected_at=timestamp(item.detected_at),
                  outcome_note=item.outcome_note)
    setattr(message, id_field, item.id)
    setattr(message, profile_field, item.profile_id)
    setattr(message, probability_field, item.intent_probability)
    if item.lease_expires_at:
        message.lease_expires_at.CopyFrom(timestamp(item.lease_expires_at))
    return message


def optional_seconds(message, field: str) -> float | None:
    """An optional Timestamp field as epoch seconds; None when the caller left it unset."""
    return seconds(getattr(message, field)) if message.HasField(field) else None


def evidence_lines(verdict: post_pb2.Classification) -> list[str]:
    return [f"{e.rule}: {e.text}" for e in verdict.evidence]


def candidate_hit(hit: CandidateHit) -> match_pb2.CandidateHit:
    signal = signals_pb2.CandidateSignal(
        candidate_id=f"jobpost_{hit.job_id}", post=to_post(hit.post), job_seeking_probability=hit.probability,
        match_score=hit.score, priority=hit.priority)
    return match_pb2.CandidateHit(candidate=signal, score=hit.score)


def funnel_message(product_id: str, funnel: dict) -> match_pb2.Funnel:
    return match_pb2.Funnel(product_id=product_id, **funnel)


def complaint_message(complaint: Complaint) -> signals_pb2.ComplaintSignal:
    return signals_pb2.ComplaintSignal(
        complaint_id=complaint.id, employer_id=complaint.employer_id, post=to_post(complaint.post),
        probability=complaint.probability, evidence=complaint.evidence,
        detected_at=timestamp(complaint.detected_at))


def product_to_proto(p: Product) -> profiles_pb2.ProductProfile:
    return profiles_pb2.ProductProfile(id=p.id, name=p.name, description=p.description, keywords=p.keywords,
                                       excluded_keywords=p.excluded_keywords, languages=p.languages,
                                       min_score=p.min_score, owner_team=p.owner_team, examples=p.examples,
                                       negative_examples=p.negative_examples)


def product_from_proto(m: profiles_pb2.ProductProfile) -> Product:
    return Product(id=m.id, name=m.name, description=m.description, keywords=list(m.keywords),
                   excluded_keywords=list(m.excluded_keywords), languages=list(m.languages),
                   min_score=m.min_score, owner_team=m.owner_team, examples=list(m.examples),
                   negative_examples=list(m.negative_examples))


def vacancy_to_proto(v: Vacancy) -> profiles_pb2.VacancyProfile:
    return profiles_pb2.VacancyProfile(id=v.id, title=v.title, description=v.description, keywords=v.keywords,
                                       location=v.location, examples=v.examples,
                                       negative_examples=v.negative_examples)


def vacancy_from_proto(m: profiles_pb2.VacancyProfile) -> Vacancy:
    return Vacancy(id=m.id, title=m.title, description=m.description, keywords=list(m.keywords),
                   location=m.location, examples=list(m.examples), negative_examples=list(m.negative_examples))


def employer_to_proto(e: Employer) -> profiles_pb2.EmployerProfile:
    return profiles_pb2.EmployerProfile(id=e.id, names=e.names)


def employer_from_proto(m: profiles_pb2.EmployerProfile) -> Employer:
    return Employer(id=m.id, names=list(m.names))
