"""nbgrader configuration: the repository root is the course directory."""

c = get_config()  # noqa: F821  (provided by nbgrader)

c.CourseDirectory.course_id = "cnnlab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "notebooks"
c.CourseDirectory.submitted_directory = "submitted"
c.CourseDirectory.autograded_directory = "autograded"
c.CourseDirectory.feedback_directory = "feedback"

# Notebooks 06 (MNIST training) needs longer than nbgrader's default 30 s per cell.
c.ExecutePreprocessor.timeout = 300
c.Execute.timeout = 300
# nbclient waits only 4 s by default for a cell's last output after it finished: too short on a busy
# grading machine (a cell drawing a large widget), where it would stop the notebook.
c.Execute.iopub_timeout = 60

# Every grading kernel starts in a bubblewrap sandbox (cnnlab/course/sandbox.py): no network, no
# course files but the notebook's own folder, no gradebook, no solutions, no other students, read-only
# library, capped memory/CPU/processes/disk. Without bubblewrap, `nbgrader autograde` refuses to run
# (CNNLAB_UNSAFE_NO_SANDBOX=1 overrides it, for submissions you trust only).
c.Execute.kernel_manager_class = "cnnlab.course.sandbox.SandboxKernelManager"

# Verdicts are computed in nbgrader's own process, not in the student's kernel: graded test cells are
# never run there; their checks run here on plain data the kernel returns (cnnlab/course/trusted.py).
# Cells the student wrote are audited first; one that reaches for forbidden tools is not run.
c.Autograde.autograde_preprocessors = [
    "cnnlab.course.trusted.TrustedExecute",
    "nbgrader.preprocessors.IgnorePattern",
    "nbconvert.preprocessors.ClearMetadataPreprocessor",
    "nbgrader.preprocessors.LimitOutput",
    # HTML the student controls (every output, their markdown) is made inert before the Formgrader
    # or a feedback page shows it: no scripts in the instructor's browser (cnnlab/course/sanitize.py).
    "cnnlab.course.sanitize.SanitizeSubmissionHTML",
    "nbgrader.preprocessors.SaveAutoGrades",
    "nbgrader.preprocessors.AssignLatePenalties",
    "nbgrader.preprocessors.CheckCellMetadata",
]
# A deleted graded cell is put back (and graded) instead of silently scoring 0.
c.OverwriteCells.add_missing_cells = True
# A cell the student copied (grade id and all) does not stop the submission from being graded.
c.Autograde.sanitize_preprocessors = [
    "nbgrader.preprocessors.ClearOutput",
    "cnnlab.course.sanitize.DropDuplicateIds",
    "nbgrader.preprocessors.OverwriteKernelspec",
    "nbgrader.preprocessors.OverwriteCells",
    "nbgrader.preprocessors.CheckCellMetadata",
]

# Files a submission may not bring along: anything Python could import instead of the course's
# own packages (a `cnnlab.py`, a `numpy/` folder, a sitecustomize.py, ...).
c.CourseDirectory.ignore = [
    ".ipynb_checkpoints", "*.pyc", "__pycache__", "feedback",
    "*.py", "*.pth", "*.so", "*.pyd", "*.egg-link",
    "cnnlab", "numpy", "scipy", "torch", "matplotlib", "ipywidgets", "nbgrader", "IPython",
]

# Feedback shows the visible tests and their results, never the hidden tests' source.
c.GenerateFeedback.preprocessors = [
    "nbgrader.preprocessors.GetGrades",
    "cnnlab.grading.hidden.HideHiddenTestTracebacks",  # tracebacks quote the hidden lines
    "nbgrader.preprocessors.ClearHiddenTests",
    "nbconvert.preprocessors.CSSHTMLHeaderPreprocessor",
]
# ... also from a cell whose nbgrader metadata a student stripped (otherwise feedback fails).
c.ClearHiddenTests.enforce_metadata = False
# Feedback pages that work offline: formulas rendered to MathML at feedback time (no MathJax
# from a CDN) and long output lines wrapped (cnnlab/course/feedback_html.py).
c.GenerateFeedback.exporter_class = "cnnlab.course.feedback_html.OfflineFeedbackExporter"

# --- exchange ---
# On a hub where each student has their own Unix user: `collect` rejects a submission whose owner
# is not the student it names (a forged --student), and `release_assignment` keeps the exchange
# root sticky (1777) so no student can rename the course folder (cnnlab/course/exchange.py).
c.ExchangeFactory.collect = "cnnlab.course.exchange.OwnerCheckedCollect"
c.ExchangeFactory.release_assignment = "cnnlab.course.exchange.StickyRootReleaseAssignment"
