"""The node: the Qt-free daemon that takes grid jobs by the schedule (docs/architecture.md).

slots.py is the slot loop and its states; settlement.py the only writer of the ledger (ledger.py);
inputs.py the availability inputs; energy.py the energy meter; commands.py the control API's
commands; daemon.py the process itself (`hostapp node`).
"""
