"""Grade a whole class on Dask: one task per (student, assignment), one writer of the gradebook.

``cnnlab grade`` (the console script, :func:`main`) grades every collected submission under
``submitted/<student>/<assignment>/`` of the course directory:

1. The **coordinator** (the process you start) reads the course: its ``nbgrader_config.py``,
   each assignment's ``source/`` and ``release/`` folders, and a *template gradebook* per
   assignment (a fresh ``gradebook.db`` holding only that assignment's notebooks and cells,
   copied from the course's gradebook through nbgrader's API).
2. Each **task** runs on a Dask worker, in a scratch folder of its own: it writes that course
   copy and the one student's submitted folder, then runs nbgrader's own
   ``nbgrader autograde <assignment> --student=<student> --force`` there. Whatever the course's
   config enforces (the grading sandbox, trusted verdicts, cell timeouts) therefore applies to
   every task exactly as it does at the course root. The task sends back plain data: the
   autograded folder's files (bytes) and the scores read from the scratch gradebook.
3. The coordinator alone writes ``gradebook.db`` (through :class:`nbgrader.api.Gradebook`,
   the same fields ``nbgrader autograde`` writes) and ``autograded/<student>/<assignment>/``,
   so ``nbgrader generate_feedback``, ``nbgrader export`` and the Formgrader see the scores
   as if ``nbgrader autograde`` had run at the course root.

Resuming: ``cnnlab-grading.sqlite`` beside the gradebook records, per submission, the checksum
of what was graded (the submitted files, the assignment's source and release, the config). A
re-run grades only submissions whose checksum changed, that failed before, or that are missing
from the gradebook or ``autograded/``; ``--force`` regrades everything.

Failures: a worker that dies mid-task has its task rescheduled on another worker by Dask; a
task whose ``nbgrader autograde`` fails is retried (``--retries``); a submission that fails every
try is reported by name with the reason, and never blocks the others. At the end every
submission has a score or a named reason.
"""

import argparse
import datetime
import hashlib
import os
import shutil
import sqlite3
import sys
import tempfile
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

STATE_FILE = "cnnlab-grading.sqlite"
MAX_FILE_BYTES = 100_000 * 1024  # nbgrader's default CourseDirectory.max_file_size (100000 KB)
MAX_RESULT_BYTES = 200 * 1024 * 1024  # an autograded folder larger than this is a failure


class GradingError(RuntimeError):
    """``nbgrader autograde`` could not grade a submission (the message says why)."""


# --------------------------------------------------------------------------------------------
# The course, as the coordinator reads it
# --------------------------------------------------------------------------------------------

@dataclass
class Course:
    """The course directory's layout, read from its ``nbgrader_config.py``."""

    root: Path
    course_id: str
    source: str
    release: str
    submitted: str
    autograded: str

    @property
    def gradebook_url(self):
        return f"sqlite:///{self.root / 'gradebook.db'}"

    def submission_folder(self, student, assignment):
        return self.root / self.submitted / student / assignment

    def autograded_folder(self, student, assignment):
        return self.root / self.autograded / student / assignment


def read_course(root):
    """Read ``root/nbgrader_config.py`` with nbgrader's own classes (CourseDirectory defaults)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    root = Path(root).resolve()
    if not (root / "nbgrader_config.py").is_file():
        raise ValueError(f"course: {root} has no nbgrader_config.py; pass the course directory "
                         f"(the folder holding nbgrader_config.py) as --course")
    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    coursedir = CourseDirectory(config=config, root=str(root))
    return Course(root=root, course_id=coursedir.course_id or "default_course",
                  source=coursedir.source_directory, release=coursedir.release_directory,
                  submitted=coursedir.submitted_directory, autograded=coursedir.autograded_directory)


def read_tree(folder, prefix=""):
    """{relative path: bytes} of every file under ``folder`` (sorted; huge files left out)."""
    files = {}
    folder = Path(folder)
    if not folder.is_dir():
        return files
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink() and path.stat().st_size <= MAX_FILE_BYTES:
            files[prefix + path.relative_to(folder).as_posix()] = path.read_bytes()
    return files


def write_tree(folder, files):
    """Write {relative path: bytes} under ``folder``, refusing paths that leave it."""
    folder = Path(folder)
    for name, data in files.items():
        target = (folder / name).resolve()
        if not target.is_relative_to(folder.resolve()):
            raise GradingError(f"refusing to write {name!r} outside {folder}")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)


def course_files(course, assignment):
    """What every task of one assignment needs: the config, its source and its release."""
    files = {"nbgrader_config.py": (course.root / "nbgrader_config.py").read_bytes()}
    files.update(read_tree(course.root / course.source / assignment, f"{course.source}/{assignment}/"))
    files.update(read_tree(course.root / course.release / assignment, f"{course.release}/{assignment}/"))
    return files


def checksum(*trees):
    """SHA-256 over file names and contents of one or more {path: bytes} trees."""
    digest = hashlib.sha256()
    for files in trees:
        for name in sorted(files):
            digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return digest.hexdigest()


def collected_submissions(course, assignments, students=None):
    """[(student, assignment)] for every folder ``submitted/<student>/<assignment>/``."""
    found = []
    base = course.root / course.submitted
    if not base.is_dir():
        return found
    for folder in sorted(p for p in base.iterdir() if p.is_dir()):
        if students and folder.name not in students:
            continue
        for assignment in assignments:
            if (folder / assignment).is_dir():
                found.append((folder.name, assignment))
    return found


def gradebook_assignments(course):
    """Names of the assignments the course's gradebook knows (``generate_assignment`` adds them)."""
    from nbgrader.api import Gradebook

    if not (course.root / "gradebook.db").exists():
        return []
    with Gradebook(course.gradebook_url, course.course_id) as gb:
        return sorted(a.name for a in gb.assignments)


def empty_gradebook(course, folder):
    """Bytes of an empty gradebook of the course (nbgrader's schema, its alembic version stamped).

    Creating a gradebook runs ``alembic`` in a subprocess (seconds, a minute on a busy machine);
    it is done once per run and the file copied for each assignment's template.
    """
    from nbgrader.api import Gradebook

    path = Path(folder) / "empty.db"
    with Gradebook(f"sqlite:///{path}", course.course_id):
        pass
    return path.read_bytes()


def template_gradebook(course, assignment, folder, empty):
    """Bytes of a gradebook holding only ``assignment`` (its notebooks and cells), no student.

    Filled through nbgrader's API, from the course's gradebook into a copy of ``empty``
    (:func:`empty_gradebook`), so a task's scratch copy knows the assignment exactly as
    ``nbgrader generate_assignment`` recorded it (cell checksums, points, due date) and nothing
    about any other assignment or student.
    """
    from nbgrader.api import Gradebook, MissingEntry

    path = Path(folder) / f"{assignment}.db"
    path.write_bytes(empty)
    with Gradebook(course.gradebook_url, course.course_id) as master:
        try:
            source = master.find_assignment(assignment)
        except MissingEntry:
            raise ValueError(f"assignment: {assignment!r} is not in {course.root / 'gradebook.db'}; run "
                             f"`nbgrader generate_assignment \"*\" --force` in the course first") from None
        with Gradebook(f"sqlite:///{path}", course.course_id) as copy:
            copy.add_assignment(assignment, duedate=source.duedate)
            for notebook in source.notebooks:
                copy.add_notebook(notebook.name, assignment, kernelspec=notebook.kernelspec)
                for cell in notebook.grade_cells:
                    copy.add_grade_cell(cell.name, notebook.name, assignment,
                                        max_score=cell.max_score, cell_type=cell.cell_type)
                for cell in notebook.solution_cells:
                    copy.add_solution_cell(cell.name, notebook.name, assignment)
                for cell in notebook.task_cells:
                    copy.add_task_cell(cell.name, notebook.name, assignment,
                                       max_score=cell.max_score, cell_type=cell.cell_type)
                for cell in notebook.source_cells:
                    copy.add_source_cell(cell.name, notebook.name, assignment, cell_type=cell.cell_type,
                                         locked=cell.locked, source=cell.source, checksum=cell.checksum)
    return path.read_bytes()


def master_extension(course, student, assignment):
    """The student's extension on this assignment in the course's gradebook, in seconds, or None."""
    from nbgrader.api import Gradebook, MissingEntry

    with Gradebook(course.gradebook_url, course.course_id) as gb:
        try:
            extension = gb.find_submission(assignment, student).extension
        except MissingEntry:
            return None
    return extension.total_seconds() if extension else None


# --------------------------------------------------------------------------------------------
# One task: grade one submission in a scratch copy of the course (runs on a Dask worker)
# --------------------------------------------------------------------------------------------

def use_this_environments_tools():
    """Put this Python's ``bin/`` first on PATH: nbgrader runs ``alembic`` from there when it opens a
    gradebook, and ``cnnlab grade`` may be started by its full path without the venv activated."""
    tools = str(Path(sys.executable).parent)
    if os.environ.get("PATH", "").split(os.pathsep)[0] != tools:
        os.environ["PATH"] = tools + os.pathsep + os.environ.get("PATH", "")


def grading_env():
    """The environment of ``nbgrader autograde`` in a task: this venv first on PATH, one BLAS thread."""
    env = dict(os.environ)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        env.setdefault(name, os.environ.get("CNNLAB_GRADING_THREADS", "1"))
    return env


def run_nbgrader(args, cwd, log_path, timeout):
    """Run the ``nbgrader`` command line with ``args`` in ``cwd``: (exit status, CPU seconds).

    Importing nbgrader costs about 6 CPU-seconds, more than grading a short notebook, so the
    worker imports it once and *forks* a child per submission: the child changes to ``cwd``,
    writes its log to ``log_path`` and runs ``nbgrader.apps.nbgraderapp.main`` with ``args``,
    exactly what the ``nbgrader`` script runs. The child leads its own process group, which is
    killed (kernels included) when it runs past ``timeout`` seconds.
    """
    import signal

    import nbgrader.apps.nbgraderapp  # noqa: F401  (imported once per worker, inherited by each child)

    env = grading_env()
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 1
        try:
            os.setpgid(0, 0)
            log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(log, 1)
            os.dup2(log, 2)
            sys.stdout = open(1, "w", buffering=1, closefd=False)
            sys.stderr = open(2, "w", buffering=1, closefd=False)
            os.chdir(cwd)
            os.environ.clear()
            os.environ.update(env)
            sys.argv = ["nbgrader", *args]
            nbgrader.apps.nbgraderapp.main()
            code = 0
        except SystemExit as stop:
            code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
        except BaseException:
            import traceback

            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os._exit(code)
    deadline = time.monotonic() + timeout
    while True:
        done, status, usage = os.wait4(pid, os.WNOHANG)
        if done:
            return os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
        if time.monotonic() > deadline:
            for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
                try:
                    target()
                except ProcessLookupError:
                    pass
            os.waitpid(pid, 0)
            return None, None
        time.sleep(0.1)


def prepare_grading_copy(assignment):
    """Do, once in this worker, what every forked ``nbgrader autograde`` of ``assignment`` would redo.

    Made here, before :func:`run_nbgrader` forks, these are inherited by every child grading that
    assignment: the sandbox's byte-compiled grading copy of cnnlab (0.5-0.7 CPU-seconds a
    submission), matplotlib's font list for the kernels (0.4), the grader's own modules (0.2) and,
    for an assignment whose checks move torch models out of the kernel, torch (2-3). The copies
    live until the worker exits.
    """
    import cnnlab
    import cnnlab.course.trusted  # noqa: F401
    import cnnlab.grading  # noqa: F401
    from cnnlab.course import policy, sandbox

    package_dir = os.path.dirname(os.path.realpath(cnnlab.__file__))
    sandbox.cached_grading_copy(package_dir, assignment, grading=True)
    sandbox.cached_font_list()
    if "torch" in policy.policy_for(assignment).extra_imports:
        import torch  # noqa: F401  (the checks of this assignment move torch models: import it once, not per fork)


def read_scores(db_url, course_id, student, assignment):
    """What ``nbgrader autograde`` recorded for one submission, as plain data.

    ``{"timestamp": str | None, "score": float, "max_score": float,
    "notebooks": {name: {"late_penalty": float | None,
    "grades": {cell: auto_score}, "comments": {cell: auto_comment}}}}``
    """
    from nbgrader.api import Gradebook

    with Gradebook(db_url, course_id) as gb:
        submission = gb.find_submission(assignment, student)
        result = {"timestamp": submission.timestamp.isoformat() if submission.timestamp else None,
                  "score": float(submission.score), "max_score": float(submission.max_score),
                  "notebooks": {}}
        for notebook in submission.notebooks:
            result["notebooks"][notebook.name] = {
                "late_penalty": notebook.late_submission_penalty,
                "grades": {g.name: g.auto_score for g in notebook.grades},
                "comments": {c.name: c.auto_comment for c in notebook.comments},
            }
    return result


def last_error_lines(log, count=3):
    """The last few ERROR/Traceback lines of nbgrader's log: the reason a run failed."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    errors = [line for line in lines if "ERROR" in line or "Error" in line or "rror:" in line]
    return " | ".join((errors or lines)[-count:])[:1000]


def grade_submission(job, files, gradebook_bytes, timeout=3600):
    """Grade one (student, assignment) with nbgrader's own autograde, in a scratch course copy.

    ``job``: {"student", "assignment", "submission": {path: bytes}, "checksum", "course_id",
    "submitted", "autograded", "extension": seconds or None}; ``files``: the course files for that
    assignment (:func:`course_files`); ``gradebook_bytes``: its template gradebook.
    Returns {"student", "assignment", "checksum", "autograded": {path: bytes}, "scores": ...,
    "seconds", "worker"}; raises :class:`GradingError` when nbgrader cannot grade it.
    """
    from nbgrader.api import Gradebook

    student, assignment = job["student"], job["assignment"]
    start = time.perf_counter()
    scratch = Path(tempfile.mkdtemp(prefix=f"cnnlab-grade-{assignment}-", dir=os.environ.get("CNNLAB_SCRATCH")))
    try:
        write_tree(scratch, files)
        write_tree(scratch / job["submitted"] / student / assignment, job["submission"])
        (scratch / "gradebook.db").write_bytes(gradebook_bytes)
        db_url = f"sqlite:///{scratch / 'gradebook.db'}"
        if job.get("extension"):
            with Gradebook(db_url, job["course_id"]) as gb:
                gb.update_or_create_student(student)
                gb.update_or_create_submission(assignment, student,
                                               extension=datetime.timedelta(seconds=job["extension"]))
        log_path = scratch.parent / f"{scratch.name}.log"
        prepare_grading_copy(assignment)
        status, cpu = run_nbgrader(["autograde", assignment, f"--student={student}", "--force"], scratch, log_path,
                                   timeout)
        log = log_path.read_text(errors="replace") if log_path.exists() else ""
        log_path.unlink(missing_ok=True)
        if status is None:
            raise GradingError(f"{student} {assignment}: nbgrader autograde ran past {timeout} s")
        if status != 0:
            raise GradingError(f"{student} {assignment}: nbgrader autograde exited {status}: {last_error_lines(log)}")
        graded = read_tree(scratch / job["autograded"] / student / assignment)
        if not any(name.endswith(".ipynb") for name in graded):
            raise GradingError(f"{student} {assignment}: nbgrader autograde wrote no notebook: {last_error_lines(log)}")
        if sum(len(data) for data in graded.values()) > MAX_RESULT_BYTES:
            raise GradingError(f"{student} {assignment}: autograded folder larger than {MAX_RESULT_BYTES} bytes")
        scores = read_scores(db_url, job["course_id"], student, assignment)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"student": student, "assignment": assignment, "checksum": job["checksum"],
            "autograded": graded, "scores": scores, "seconds": time.perf_counter() - start, "cpu_seconds": cpu,
            "worker": worker_name()}


def worker_name():
    """The Dask worker's name (or this process id outside Dask), recorded beside each score."""
    try:
        from distributed import get_worker

        return str(get_worker().name)
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"


# --------------------------------------------------------------------------------------------
# The coordinator: the only writer of gradebook.db, autograded/ and the resume state
# --------------------------------------------------------------------------------------------

def record_scores(gb, student, assignment, scores):
    """Write one submission's autograder results into the course's gradebook.

    The same fields and rules as ``nbgrader autograde`` (its ``init_assignment``,
    ``SaveAutoGrades`` and ``AssignLatePenalties``): the student and submission are created or
    updated with the submission's timestamp; each grade's ``auto_score`` is set and a cell
    needs manual grading when it has a manual score already or no autograder score; each
    answer cell's ``auto_comment``; each notebook's late penalty. Manual scores and comments
    are left as they are.
    """
    gb.update_or_create_student(student)
    with warnings.catch_warnings():  # nbgrader's add_submission warns about SQLAlchemy autoflush (as in autograde)
        warnings.simplefilter("ignore")
        if scores["timestamp"]:
            gb.update_or_create_submission(assignment, student, timestamp=scores["timestamp"])
        else:
            gb.update_or_create_submission(assignment, student)
    for name, notebook in scores["notebooks"].items():
        submitted = gb.find_submission_notebook(name, assignment, student)
        submitted.late_submission_penalty = notebook["late_penalty"]
        for grade in submitted.grades:
            grade.auto_score = notebook["grades"].get(grade.name)
            grade.needs_manual_grade = grade.manual_score is not None or grade.auto_score is None
        for comment in submitted.comments:
            if comment.name in notebook["comments"]:
                comment.auto_comment = notebook["comments"][comment.name]
    gb.db.commit()


def write_autograded(course, student, assignment, files):
    """Replace ``autograded/<student>/<assignment>/`` with the task's files (as autograde --force)."""
    folder = course.autograded_folder(student, assignment)
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    write_tree(folder, files)


@contextmanager
def grading_state(course):
    """The resume record beside the gradebook: one row per (student, assignment)."""
    db = sqlite3.connect(course.root / STATE_FILE)
    db.execute("CREATE TABLE IF NOT EXISTS submission (student TEXT, assignment TEXT, checksum TEXT, "
               "status TEXT, reason TEXT, score REAL, max_score REAL, seconds REAL, worker TEXT, "
               "graded_at TEXT, PRIMARY KEY (student, assignment))")
    try:
        yield db
    finally:
        db.close()


def save_state(db, student, assignment, checksum_, status, reason=None, score=None, max_score=None,
               seconds=None, worker=None):
    db.execute("INSERT OR REPLACE INTO submission VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
               (student, assignment, checksum_, status, reason, score, max_score, seconds, worker,
                datetime.datetime.now(datetime.timezone.utc).isoformat()))
    db.commit()


def previous_run(db, student, assignment):
    """(checksum, status, reason) recorded for this submission by an earlier run, or (None, None, None)."""
    row = db.execute("SELECT checksum, status, reason FROM submission WHERE student=? AND assignment=?",
                     (student, assignment)).fetchone()
    return row or (None, None, None)


@dataclass
class Report:
    """The outcome of one ``cnnlab grade`` run, every submission accounted for."""

    graded: dict = field(default_factory=dict)      # (student, assignment) -> (score, max_score), this run
    unchanged: dict = field(default_factory=dict)   # (student, assignment) -> (score, max_score), resumed
    failed: dict = field(default_factory=dict)      # (student, assignment) -> reason
    writes: dict = field(default_factory=dict)      # (student, assignment) -> gradebook writes this run
    seconds: float = 0.0
    task_seconds: list = field(default_factory=list)   # wall seconds of each task, this run
    task_cpu: dict = field(default_factory=dict)       # (student, assignment) -> CPU seconds of its autograde

    def lines(self):
        """One line per submission that did not get a fresh score, then the totals."""
        out = [f"FAILED {s} {a}: {reason}" for (s, a), reason in sorted(self.failed.items())]
        out.append(f"graded {len(self.graded)}, unchanged since last run {len(self.unchanged)}, "
                   f"failed {len(self.failed)}, in {self.seconds:.1f} s")
        return out


def plan_jobs(course, pairs, state, force, retry_failed, report):
    """The submissions to grade, with their checksums; the rest go into ``report`` as they stand.

    A submission is skipped when an earlier run saw the same checksum and either graded it (its
    score is still in the gradebook and its autograded folder exists: ``report.unchanged``) or
    failed on it (``report.failed``, the earlier reason, unless ``retry_failed``).
    """
    from nbgrader.api import Gradebook, MissingEntry

    to_grade, files_by_assignment = [], {}
    with Gradebook(course.gradebook_url, course.course_id) as gb:
        for student, assignment in pairs:
            if assignment not in files_by_assignment:
                files_by_assignment[assignment] = course_files(course, assignment)
            submission = read_tree(course.submission_folder(student, assignment))
            digest = checksum(files_by_assignment[assignment], submission)
            before, status, reason = previous_run(state, student, assignment)
            if not force and before == digest:
                if status == "failed" and not retry_failed:
                    report.failed[student, assignment] = f"unchanged since a failed run ({reason})"
                    continue
                if status == "graded" and course.autograded_folder(student, assignment).is_dir():
                    try:
                        found = gb.find_submission(assignment, student)
                        report.unchanged[student, assignment] = (found.score, found.max_score)
                        continue
                    except MissingEntry:
                        pass
            to_grade.append({"student": student, "assignment": assignment})
    return to_grade, files_by_assignment


def start_client(scheduler=None, workers=None):
    """A Dask client: on the running scheduler given, else on a LocalCluster sized to this machine."""
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        raise ValueError("scheduler: Dask is not installed; install the instructor extra: "
                         "pip install 'cnnlab[instructor]' (or 'dask[distributed]')") from None

    if scheduler:
        return Client(scheduler), None
    n = workers or os.cpu_count() or 1
    cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, memory_limit=0,
                           dashboard_address=None)
    return Client(cluster), cluster


def grade_class(course_root, assignments=None, students=None, scheduler=None, workers=None, force=False,
                retry_failed=False, retries=1, timeout=3600, progress=True, client=None):
    """Grade every collected submission of ``assignments`` (default: all in the gradebook).

    Returns a :class:`Report`. ``client``: an existing ``dask.distributed.Client`` (tests);
    otherwise one is started from ``scheduler``/``workers`` and closed at the end.
    """
    start = time.perf_counter()
    use_this_environments_tools()
    course = read_course(course_root)
    known = gradebook_assignments(course)
    assignments = list(assignments or known)
    missing = [a for a in assignments if a not in known]
    if not assignments or missing:
        raise ValueError(f"assignments: {missing or 'none'} not in {course.root / 'gradebook.db'}; run "
                         f"`nbgrader generate_assignment \"*\" --force` in the course first")
    pairs = collected_submissions(course, assignments, students)
    report = Report()
    with grading_state(course) as state:
        jobs, files_by_assignment = plan_jobs(course, pairs, state, force, retry_failed, report)
        if jobs:
            own_client = client is None
            cluster = None
            if own_client:
                client, cluster = start_client(scheduler, workers)
            try:
                run_jobs(client, course, jobs, files_by_assignment, state, report, retries, timeout, progress)
            finally:
                if own_client:
                    client.close()
                    if cluster is not None:
                        cluster.close()
    report.seconds = time.perf_counter() - start
    return report


def submit_job(client, course, job, files, template, retries, timeout, run_id):
    """Read one submission now and submit its task: (future, checksum of what was sent).

    The task carries everything it needs (course files, template gradebook, the submission), so a
    worker that dies loses nothing that another worker cannot redo.
    """
    student, assignment = job["student"], job["assignment"]
    submission = read_tree(course.submission_folder(student, assignment))
    job = dict(job, submission=submission, checksum=checksum(files, submission), course_id=course.course_id,
               submitted=course.submitted, autograded=course.autograded,
               extension=master_extension(course, student, assignment))
    future = client.submit(grade_submission, job, files, template, timeout, retries=retries, pure=False,
                           key=f"grade-{assignment}-{student}-{job['checksum'][:12]}-{run_id}")
    return future, job["checksum"]


def in_flight_limit(client):
    """How many tasks to keep submitted at once: four per worker thread (at least 8), so that the
    scheduler and this process hold a bounded number of submissions, however large the class."""
    return max(8, 4 * sum(client.nthreads().values()))


def run_jobs(client, course, jobs, files_by_assignment, state, report, retries, timeout, progress):
    """Keep the workers busy with jobs; record each result as it arrives (the only writer)."""
    import uuid

    from dask.distributed import as_completed
    from nbgrader.api import Gradebook
    from tqdm.auto import tqdm

    with tempfile.TemporaryDirectory(prefix="cnnlab-templates-") as folder:
        empty = empty_gradebook(course, folder)
        templates = {a: template_gradebook(course, a, folder, empty) for a in sorted({job["assignment"] for job in jobs})}
    run_id = uuid.uuid4().hex[:8]
    waiting = list(reversed(jobs))
    futures = {}
    running = as_completed()

    def submit_more():
        while waiting and len(futures) < in_flight_limit(client):
            job = waiting.pop()
            files = files_by_assignment[job["assignment"]]
            future, digest = submit_job(client, course, job, files, templates[job["assignment"]], retries, timeout,
                                        run_id)
            futures[future] = (job["student"], job["assignment"], digest)
            running.add(future)

    submit_more()
    bar = tqdm(total=len(jobs), unit="submission", disable=not progress, desc="grading")
    with Gradebook(course.gradebook_url, course.course_id) as gb:
        for future in running:
            student, assignment, digest = futures.pop(future)
            try:
                result = future.result()
            except Exception as error:  # a GradingError from the task, or KilledWorker
                reason = f"{type(error).__name__}: {error}"
                report.failed[student, assignment] = reason
                save_state(state, student, assignment, digest, "failed", reason=reason)
            else:
                write_autograded(course, student, assignment, result["autograded"])
                record_scores(gb, student, assignment, result["scores"])
                score, max_score = result["scores"]["score"], result["scores"]["max_score"]
                report.graded[student, assignment] = (score, max_score)
                report.writes[student, assignment] = report.writes.get((student, assignment), 0) + 1
                report.task_seconds.append(result["seconds"])
                report.task_cpu[student, assignment] = result.get("cpu_seconds")
                save_state(state, student, assignment, digest, "graded", score=score,
                           max_score=max_score, seconds=result["seconds"], worker=result["worker"])
            future.release()
            bar.update(1)
            bar.set_postfix(failed=len(report.failed), refresh=False)
            submit_more()
    bar.close()


def main(argv=None):
    """``cnnlab grade``: grade the class of the course directory on Dask."""
    parser = argparse.ArgumentParser(
        prog="cnnlab grade",
        description="Grade every collected submission (submitted/<student>/<assignment>/) with nbgrader's "
                    "autograde, one Dask task per submission; only this process writes gradebook.db.")
    parser.add_argument("assignments", nargs="*", help="assignments to grade (default: every one in the gradebook)")
    parser.add_argument("--course", default=".", help="the course directory (holding nbgrader_config.py); default .")
    parser.add_argument("--student", action="append", dest="students", help="grade only this student (repeatable)")
    parser.add_argument("--scheduler", help="address of a running Dask scheduler, e.g. tcp://host:8786 "
                                            "(default: a LocalCluster on this machine)")
    parser.add_argument("--workers", type=int, help="LocalCluster workers (default: one per CPU)")
    parser.add_argument("--force", action="store_true", help="regrade submissions already graded and unchanged")
    parser.add_argument("--retry-failed", action="store_true",
                        help="try again the submissions that failed in an earlier run and have not changed")
    parser.add_argument("--retries", type=int, default=1, help="extra tries for a submission whose grading fails")
    parser.add_argument("--timeout", type=int, default=3600, help="seconds one submission may take (default 3600)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)
    try:
        report = grade_class(args.course, args.assignments, args.students, args.scheduler, args.workers,
                             args.force, args.retry_failed, args.retries, args.timeout,
                             progress=not args.no_progress)
    except ValueError as error:
        parser.exit(2, f"cnnlab grade: {error}\n")
    print("\n".join(report.lines()))
    return 1 if report.failed else 0
