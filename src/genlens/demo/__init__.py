"""``genlens demo``: an application on top of the views -- the planted-defect world end to end.

:mod:`~genlens.demo.run` writes one report per planted-defect generator and the index,
:mod:`~genlens.demo.models` the report of the zoo's reference networks, and
:mod:`~genlens.demo.tracking` the tracking experiment (DCGAN seeds and a planted blow-up).
Nothing below this package imports it.
"""
