"""Evaluation harness behind ``aither-wm bench autoheal``: does the mesh heal?

Modules (one concept each):

* ``episodes``: scenarios every policy replays, the per-episode policy protocol, and the episode
  loop shared with the demo (controller and guarded-rule policies in the loop);
* ``policies``: random, reactive and world-model planner policies; ``oracle``: MPC on the true
  simulator;
* ``metrics``: per-episode healing metrics; ``stats``: Student-t intervals; ``summary``: per policy
  and per fault type over seeds;
* ``data``: labelled simulator episodes (true health, SLO) and the remedy-rich behaviour policy;
* ``health``: the latent health probe, the health head, the health objective, the target prior;
  ``health_fit``: training the planning model along k-step rollouts with the health head;
* ``quality``: world-model quality on held-out episodes; ``plots``: the report's PNGs.
"""
