"""nbgrader configuration for STUDENTS' single-user servers (not the instructor's course directory).

Copy it, with jupyter_server_config.json beside it, into a folder of the student image (for example
/etc/jupyter/cnnlab/) and set JUPYTER_CONFIG_PATH to that folder: see docs/instructors.md.
"""

c = get_config()  # noqa: F821  (provided by Jupyter)

# Where the instructor releases assignments and students submit (a shared, sticky folder: 1777).
c.Exchange.root = "/srv/nbgrader/exchange"
c.CourseDirectory.course_id = "cnnlab"

# The Validate button runs the whole notebook; the MNIST notebook's training cells need minutes on
# a small server, and no cell should run for ever.
c.Execute.timeout = 300
