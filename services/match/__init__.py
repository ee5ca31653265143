"""Match service: FAISS matching to profiles, the sales and HR queues, recruiter search, complaint alerts."""
