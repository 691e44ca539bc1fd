"""Clinical trials: trial tables, baseline characteristics, survival analysis, design and simulation.

Plain Python over pandas, numpy, scipy, lifelines and statsmodels (imported lazily where heavy);
never imports Qt. The panel (``ui.trials``) and the commands (``app.commands.trials``) are thin
layers over these modules:

- :mod:`core.trials.data`: read CSV/XLSX, demo data shipped by lifelines, column types, detection
  of time/event/group columns, validation.
- :mod:`core.trials.baseline`: the baseline-characteristics table by arm.
- :mod:`core.trials.survival`: Kaplan–Meier, log-rank, Cox, proportional-hazards check, binary
  effects (risk difference, risk ratio, odds ratio).
- :mod:`core.trials.design`: sample size and power (two proportions, two means, time to event).
- :mod:`core.trials.sequential`: group-sequential boundaries (O'Brien–Fleming, Pocock).
- :mod:`core.trials.simulation`: vectorised Monte Carlo of a time-to-event trial with interim looks.
"""


class TrialDataError(ValueError):
    """Bad trial data or design input; the message names the file, column or value."""
