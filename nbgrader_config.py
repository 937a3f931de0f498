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

# Every grading kernel starts in a sandbox (cnnlab/grading/sandbox.py): its memory is capped
# (CNNLAB_GRADING_MEMORY_GB, default 6) and the gradebook is restored if the notebook changes it.
c.Execute.kernel_manager_class = "cnnlab.grading.sandbox.SandboxKernelManager"

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
