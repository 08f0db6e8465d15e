"""Speaker recognition with DNN embeddings (x-vectors): train, enroll, verify, identify.
"""
