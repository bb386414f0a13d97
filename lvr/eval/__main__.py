"""`python -m lvr.eval …`: the evaluation commands of lvr.eval.cli (the form `lvr.jobs.launch` uses to run an
evaluation as a job; `lvr eval …` is the same plus `import` and `ceiling`).

    python -m lvr.eval run WS --checkpoint C --frames 16 --run-id eval-…   # --run-id: relaunch resumes
"""
from lvr.eval.cli import eval_group

if __name__ == "__main__":
    eval_group(prog_name="python -m lvr.eval")
