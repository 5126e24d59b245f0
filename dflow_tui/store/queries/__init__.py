"""The state database's queries, one module per aggregate: the jobs and the service layer
read and write rows only through these functions (migrations keep their own SQL).

A function takes a `Database` and runs its own short transaction, or a `StateSession`
when its caller reads several things in one transaction; a function that writes through
a caller's session commits it, so it comes last. They return table rows or plain values
and decide nothing: refusals and choices belong to `core.policy`, the jobs and the
service layer.
"""
