"""Operator-owned alerts: rules (:mod:`.rules`), what to tell (:mod:`.book`, pure), their
tables in ``duck.db`` (:mod:`.ledger`), delivery through Apprise (:mod:`.sender`) and the
threads that run them beside a Catchment (:mod:`.service`)."""
