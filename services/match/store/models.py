"""Plain data objects shared by the store and the services. Times are float epoch seconds."""
from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass, field

KIND_LEAD = "lead"
KIND_CANDIDATE = "candidate"
KINDS = (KIND_LEAD, KIND_CANDIDATE)

STATUS_NEW = "new"
STATUS_LEASED = "leased"
STATUS_CONTACTED = "contacted"
STATUS_WON = "won"
STATUS_LOST = "lost"
STATUS_NOT_A_LEAD = "not_a_lead"
STATUS_WRONG_PROFILE = "wrong_profile"   # a real signal, matched to the wrong product or vacancy
OPEN_STATUSES = (STATUS_NEW, STATUS_LEASED)
OUTCOMES = (STATUS_CONTACTED, STATUS_WON, STATUS_LOST, STATUS_NOT_A_LEAD, STATUS_WRONG_PROFILE)
# Outcomes that teach the matched profile: its post becomes a positive / negative example of it.
POSITIVE_OUTCOMES = (STATUS_CONTACTED, STATUS_WON)
NEGATIVE_OUTCOMES = (STATUS_NOT_A_LEAD, STATUS_WRONG_PROFILE)
STATUSES = OPEN_STATUSES + OUTCOMES


@dataclass
class Product:
    id: str
    name: str
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    excluded_keywords: list[str] = field(default_factory=list)
    languages: list[str] = field(default_factory=list)
    min_score: float = 0.0
    owner_team: str = ""
    updated_at: float = 0.0
    examples: list[str] = field(default_factory=list)           # posts that should match (pasted or learned)
    negative_examples: list[str] = field(default_factory=list)  # posts that should not


@dataclass
class Vacancy:
    id: str
    title: str
    description: str = ""
    keywords: list[str] = field(default_factory=list)
    location: str = ""
    updated_at: float = 0.0
    examples: list[str] = field(default_factory=list)
    negative_examples: list[str] = field(default_factory=list)


@dataclass
class Employer:
    id: str
    names: list[str] = field(default_factory=list)
    updated_at: float = 0.0


@dataclass
class PostRef:
    post_id: str
    network: str = ""
    author: str = ""
    url: str = ""
    text: str = ""
    lang: str = ""
    created_at: float = 0.0
    parent_id: str = ""


@dataclass
class QueueItem:
    id: str
    kind: str
    profile_id: str  # '' = a lead that matched no product
    post: PostRef
    intent_probability: float = 0.0
    match_score: float = 0.0
    priority: float = 0.0
    evidence: list[str] = field(default_factory=list)
    status: str = STATUS_NEW
    lease_owner: str = ""
    lease_expires_at: float = 0.0
    outcome_note: str = ""
    outcome_at: float = 0.0
    related_post_ids: list[str] = field(default_factory=list)
    detected_at: float = 0.0
    published: bool = False


@dataclass
class Complaint:
    id: str
    post: PostRef
    employer_id: str = ""  # '' = no watchlist employer recognised
    probability: float = 0.0
    evidence: list[str] = field(default_factory=list)
    detected_at: float = 0.0
    published: bool = False


class AddResult(str, enum.Enum):
    CREATED = "created"
    MERGED = "merged"
    DUPLICATE = "duplicate"


class Claim(str, enum.Enum):
    """Whether a match process may put a stored record on its topic (store/publication.py)."""
    MINE = "mine"            # publish it now
    PUBLISHED = "published"  # it is on the topic already
    HELD = "held"            # another process is publishing it: wait until it is published or the claim lapses
    GONE = "gone"            # erased or purged since it was stored: nothing to publish


@dataclass(frozen=True)
class TakenOver:
    """The claim is now this process's, taken over from a process whose claim lapsed (it died). That process may
    have delivered the record before it could mark it published, at or after `since` (epoch seconds): whoever
    publishes it now looks on the topic first."""
    since: float


def _short_hash(*parts: str) -> str:
    # \x1f cannot appear in ids, so ("a", "bc") and ("ab", "c") never collide.
    return hashlib.sha1("\x1f".join(parts).encode("utf-8")).hexdigest()[:16]


def queue_item_id(kind: str, post_id: str, profile_id: str) -> str:
    """Deterministic, so reprocessing the same post yields the same item id."""
    return f"{kind}_{_short_hash(kind, post_id, profile_id)}"


def complaint_id(post_id: str, employer_id: str) -> str:
    return f"complaint_{_short_hash(post_id, employer_id)}"
