"""`python -m lvr.eval …` = `lvr eval …` (the form `lvr.jobs.launch` uses to run an evaluation as a job).

    python -m lvr.eval run WS --checkpoint C --frames 16 --run-id eval-…   # --run-id: relaunch resumes
"""
from lvr.cli.eval_cmds import eval_group

if __name__ == "__main__":
    eval_group(prog_name="python -m lvr.eval")
