"""The three signals: names used in data files and configuration, and their wire enum."""
from intentflow.v1 import post_pb2

PURCHASE_INTENT = "purchase_intent"
JOB_SEEKING = "job_seeking"
EMPLOYER_COMPLAINT = "employer_complaint"
SIGNALS = (PURCHASE_INTENT, JOB_SEEKING, EMPLOYER_COMPLAINT)

TO_PROTO = {
    PURCHASE_INTENT: post_pb2.SIGNAL_PURCHASE_INTENT,
    JOB_SEEKING: post_pb2.SIGNAL_JOB_SEEKING,
    EMPLOYER_COMPLAINT: post_pb2.SIGNAL_EMPLOYER_COMPLAINT,
}
FROM_PROTO = {v: k for k, v in TO_PROTO.items()}
# Rule groups named "<prefix>.*" support the signal; their spans become its evidence.
RULE_PREFIX = {PURCHASE_INTENT: "purchase.", JOB_SEEKING: "job.", EMPLOYER_COMPLAINT: "complaint."}
