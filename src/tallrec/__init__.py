"""tallrec: TALLRec (Bao et al., RecSys 2023) as an installable, tested framework.

Data flows one way: raw files -> data (Sample) -> prompts -> models -> scoring -> metrics -> report.
"""

__version__ = "0.1.0"
