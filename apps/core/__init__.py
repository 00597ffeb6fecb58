"""Pure analytics: option-chain math with frames in and frames/dicts out.

Nothing in this package touches Django, files or databases, so every function can be unit-tested
on hand-built frames and reused by jobs, the portal and benchmarks alike.
"""
