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
