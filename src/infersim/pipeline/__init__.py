"""The whole run of a scenario: serving simulation, then the ledger, then the economics.

This layer joins the engine to the economics: it turns GPU-hours and tokens into per-token
costs and monthly volumes (`ledger`), and derives traffic for user populations
(`populations`). Pure: data in, data out.
"""
