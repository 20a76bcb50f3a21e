"""lvyue verifier: the log format as executable code, and the auditor's tool.

Imports nothing from ledger/ or api/.
"""
