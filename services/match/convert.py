"""Store models <-> wire messages."""
from __future__ import annotations

from intentflow.v1 import post_pb2, profiles_pb2, signals_pb2
from intentflow.wire import post_id, post_key, seconds, split_post_id, timestamp
from services.match.store.models import (
    KIND_LEAD,
    STATUS_CONTACTED,
    STATUS_LEASED,
    STATUS_LOST,
    STATUS_NEW,
    STATUS_NOT_A_LEAD,
    STATUS_WON,
    Complaint,
    Employer,
    PostRef,
    Product,
    QueueItem,
    Vacancy,
)

STATUS_TO_PROTO = {
    STATUS_NEW: signals_pb2.QUEUE_STATUS_NEW, STATUS_LEASED: signals_pb2.QUEUE_STATUS_LEASED,
    STATUS_CONTACTED: signals_pb2.QUEUE_STATUS_CONTACTED, STATUS_WON: signals_pb2.QUEUE_STATUS_WON,
    STATUS_LOST: signals_pb2.QUEUE_STATUS_LOST, STATUS_NOT_A_LEAD: signals_pb2.QUEUE_STATUS_NOT_A_LEAD,
}
STATUS_FROM_PROTO = {v: k for k, v in STATUS_TO_PROTO.items()}
# Lead and CandidateSignal share one shape; only these field names differ.
_QUEUE_FIELDS = {
    KIND_LEAD: (signals_pb2.Lead, "lead_id", "product_id", "intent_probability"),
    "candidate": (signals_pb2.CandidateSignal, "candidate_id", "vacancy_id", "job_seeking_probability"),
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


def complaint_message(complaint: Complaint) -> signals_pb2.ComplaintSignal:
    return signals_pb2.ComplaintSignal(
        complaint_id=complaint.id, employer_id=complaint.employer_id, post=to_post(complaint.post),
        probability=complaint.probability, evidence=complaint.evidence,
        detected_at=timestamp(complaint.detected_at))


def product_to_proto(p: Product) -> profiles_pb2.ProductProfile:
    return profiles_pb2.ProductProfile(id=p.id, name=p.name, description=p.description, keywords=p.keywords,
                                       excluded_keywords=p.excluded_keywords, languages=p.languages,
                                       min_score=p.min_score, owner_team=p.owner_team)


def product_from_proto(m: profiles_pb2.ProductProfile) -> Product:
    return Product(id=m.id, name=m.name, description=m.description, keywords=list(m.keywords),
                   excluded_keywords=list(m.excluded_keywords), languages=list(m.languages),
                   min_score=m.min_score, owner_team=m.owner_team)


def vacancy_to_proto(v: Vacancy) -> profiles_pb2.VacancyProfile:
    return profiles_pb2.VacancyProfile(id=v.id, title=v.title, description=v.description, keywords=v.keywords,
                                       location=v.location)


def vacancy_from_proto(m: profiles_pb2.VacancyProfile) -> Vacancy:
    return Vacancy(id=m.id, title=m.title, description=m.description, keywords=list(m.keywords),
                   location=m.location)


def employer_to_proto(e: Employer) -> profiles_pb2.EmployerProfile:
    return profiles_pb2.EmployerProfile(id=e.id, names=e.names)


def employer_from_proto(m: profiles_pb2.EmployerProfile) -> Employer:
    return Employer(id=m.id, names=list(m.names))
