"""nbgrader's file-system exchange, hardened for a hub where every student has their own Unix user.

Configured in ``nbgrader_config.py`` (the ``# --- exchange ---`` block)::

    c.ExchangeFactory.collect = "cnnlab.course.exchange.OwnerCheckedCollect"
    c.ExchangeFactory.release_assignment = "cnnlab.course.exchange.StickyRootReleaseAssignment"

Two attacks on nbgrader 0.9.6's default exchange, and what these classes do about them:

* **A forged name.** ``nbgrader submit --student=<classmate>`` writes
  ``inbound/<classmate>+<assignment>+<time>+<random>``; nbgrader's ``collect`` only *warns* that the
  folder's owner is not the student it names, then takes the latest folder, the forged one.
  :class:`OwnerCheckedCollect` drops every inbound folder whose Unix owner is not the student it
  names *before* choosing the latest submission, so the classmate's own submission is collected
  and the forged one is listed as rejected.
* **A replaced course folder.** In a world-writable exchange root (``chmod 777``) a student can
  rename ``<root>/<course>`` away and create their own, which then receives (and lets that student
  read) everyone's submissions. :class:`StickyRootReleaseAssignment` gives the root the sticky bit
  (``1777``: only a folder's owner may rename or delete it), and :class:`OwnerCheckedCollect`
  refuses to collect from a course or inbound folder that the instructor does not own.

* **A back-dated submission.** The submission's time is what the student wrote: the folder name
  ``<student>+<assignment>+<time>+<random>`` and its ``timestamp.txt``, both in a folder the student
  owns, so a late submission can claim to be on time. What a student cannot set is a file's change
  time (ctime). :class:`OwnerCheckedCollect` takes the latest change time of anything in the folder;
  a claimed time more than ``timestamp_slack`` seconds earlier than it is replaced by it, in the
  choice of submission and in the collected ``timestamp.txt`` (so late penalties apply), and the
  collect log says so. Switch it off with ``OwnerCheckedCollect.check_timestamps = False`` after
  anything rewrites the exchange's files (a restore from a backup resets their change times).

On hubs where every user shares one uid (Zero to JupyterHub, DockerSpawner) no file owner tells
students apart; use an authenticated exchange there (docs/instructors.md).
"""

import datetime
import glob
import os
import pwd
import shutil
import stat
import tempfile
from collections import defaultdict

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.exchange.default.collect import ExchangeCollect
from nbgrader.exchange.default.release_assignment import ExchangeReleaseAssignment
from nbgrader.utils import parse_utc
from traitlets import Bool, Float

#: the format nbgrader writes into timestamp.txt
TIMESTAMP_FORMAT = "%Y-%m-%d %H:%M:%S.%f %Z"


def owner_name(path):
    """The Unix user name owning ``path`` itself (a symlink is not followed)."""
    uid = os.lstat(path).st_uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def forgery(record, inbound):
    """Why an inbound submission folder cannot be the student's it names, or None when it can be."""
    path = os.path.join(inbound, record["filename"])
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode):
        return f"{record['filename']} is not a folder (a link or a file)"
    owner = owner_name(path)
    if owner != record["username"]:
        return f"{record['filename']} claims to be submitted by {record['username']} but is owned by {owner}"
    return None


def last_change(folder):
    """The latest change time (ctime, which no user can set) of ``folder`` and everything in it, in UTC."""
    times = [os.lstat(folder).st_ctime]
    for root, dirs, files in os.walk(folder):
        times += [os.lstat(os.path.join(root, name)).st_ctime for name in dirs + files]
    return datetime.datetime.fromtimestamp(max(times), datetime.timezone.utc)


def claimed_time(record, folder):
    """The earliest time a submission claims: its folder name's, or its timestamp.txt's if earlier."""
    claims = [record["timestamp"]]
    path = os.path.join(folder, "timestamp.txt")
    if os.path.isfile(path) and not os.path.islink(path):
        try:
            with open(path) as f:
                claims.append(parse_utc(f.read().strip()))
        except (OSError, ValueError):
            pass
    return min(_aware(t) for t in claims)


def _aware(time):
    return time if time.tzinfo else time.replace(tzinfo=datetime.timezone.utc)


class OwnerCheckedCollect(ExchangeCollect):
    """``nbgrader collect`` that rejects submissions not owned by the student they name, and
    back-dated ones.

    With ``CollectApp.check_owner = False`` (nbgrader's switch, for shared-uid hubs) it behaves
    like nbgrader's own collect apart from the time check.
    """

    check_timestamps = Bool(
        True, help="Replace a submission's claimed time by the last change time of its files when it claims earlier"
    ).tag(config=True)
    timestamp_slack = Float(
        300.0, help="Seconds a claimed time may precede the files' last change (nbgrader submit copies after it)"
    ).tag(config=True)

    def check_course_folders(self):
        """Fail unless the course and inbound folders are real folders owned by the collecting user."""
        for path in (self.course_path, self.inbound_path):
            info = os.lstat(path)
            if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.geteuid():
                self.fail(f"Refusing to collect: {path} is owned by {owner_name(path)}, not by you "
                          f"({pwd.getpwuid(os.geteuid()).pw_name}); someone may have replaced the course "
                          f"folder. Give the exchange root mode 1777 and release the assignment again.")

    def init_src(self):
        if self.coursedir.course_id == "":
            self.fail("No course id specified. Re-run with --course flag.")
        self.course_path = os.path.join(self.root, self.coursedir.course_id)
        self.inbound_path = os.path.join(self.course_path, "inbound")
        if not os.path.isdir(self.inbound_path):
            self.fail("Course not found: {}".format(self.inbound_path))
        if self.check_owner:
            self.check_course_folders()
        student_id = self.coursedir.student_id if self.coursedir.student_id else "*"
        pattern = os.path.join(self.inbound_path, "{}+{}+*".format(student_id, self.coursedir.assignment_id))
        records = [self._path_to_record(f) for f in glob.glob(pattern)]

        self.rejected = []
        if self.check_owner:
            genuine = []
            for record in records:
                reason = forgery(record, self.inbound_path)
                if reason:
                    self.rejected.append((record, reason))
                    self.log.error("Rejected submission: %s", reason)
                else:
                    genuine.append(record)
            records = genuine

        self.corrected = {}  # inbound folder -> the time it is collected with
        if self.check_timestamps:
            for record in records:
                self.correct_time(record)

        by_student = defaultdict(list)
        for record in records:
            by_student[record["username"]].append(record)
        with Gradebook(self.coursedir.db_url, self.coursedir.course_id) as gb:
            try:
                self.duedate = gb.find_assignment(self.coursedir.assignment_id).duedate
            except MissingEntry:
                self.duedate = None
        self.src_records = [self.chosen(group) for group in by_student.values()]

    def correct_time(self, record):
        """Give a back-dated ``record`` the last change time of its files (see the module docstring)."""
        folder = os.path.join(self.inbound_path, record["filename"])
        changed = last_change(folder)
        claimed = claimed_time(record, folder)
        if claimed >= changed - datetime.timedelta(seconds=self.timestamp_slack):
            return
        self.log.error(
            "Back-dated submission: %s claims %s, but its files last changed at %s; collected with %s",
            record["filename"], claimed.strftime(TIMESTAMP_FORMAT), changed.strftime(TIMESTAMP_FORMAT),
            changed.strftime(TIMESTAMP_FORMAT),
        )
        record["timestamp"] = changed.replace(tzinfo=None)  # nbgrader's records hold naive UTC times
        self.corrected[os.path.realpath(folder)] = changed

    def chosen(self, records):
        """The submission nbgrader would collect from one student's genuine ones (the latest,
        or the latest before the due date with ``before_duedate``)."""
        records = self._sort_by_timestamp(records)
        if self.duedate is not None and self.before_duedate:
            on_time = [r for r in records if r["timestamp"] <= self.duedate]
            if on_time:
                return on_time[0]
        return records[0]

    def do_copy(self, src, dest, log=None):
        """nbgrader's copy, minus symbolic links: a link in a submission would make collect (run as
        the instructor) copy whatever it points to -- solutions, a classmate's work -- into it."""
        links = [os.path.join(root, name) for root, dirs, files in os.walk(src)
                 for name in dirs + files if os.path.islink(os.path.join(root, name))]
        if not links:
            super().do_copy(src, dest, log=log)
            return self.write_corrected_time(src, dest)
        self.log.error("Not collected: symbolic links in %s: %s", src, ", ".join(links))
        with tempfile.TemporaryDirectory() as tmp:
            clean = os.path.join(tmp, "submission")
            shutil.copytree(src, clean, symlinks=True)
            for root, dirs, files in os.walk(clean):
                for name in dirs + files:
                    if os.path.islink(os.path.join(root, name)):
                        os.unlink(os.path.join(root, name))
            super().do_copy(clean, dest, log=log)
            return self.write_corrected_time(src, dest)

    def write_corrected_time(self, src, dest):
        """Put the corrected time of a back-dated submission into its collected timestamp.txt."""
        changed = getattr(self, "corrected", {}).get(os.path.realpath(src))
        if changed is not None:
            with open(os.path.join(dest, "timestamp.txt"), "w") as f:
                f.write(changed.strftime(TIMESTAMP_FORMAT))

    def copy_files(self):
        # nbgrader's check only warns; every remaining record has passed ours.
        check_owner, self.check_owner = self.check_owner, False
        try:
            super().copy_files()
        finally:
            self.check_owner = check_owner


class StickyRootReleaseAssignment(ExchangeReleaseAssignment):
    """``nbgrader release_assignment`` that leaves the exchange root sticky (mode 1777).

    nbgrader makes the root world-writable (777), which lets any student rename or delete the
    course folder inside it; with the sticky bit only the folder's owner can.
    """

    def ensure_root(self):
        super().ensure_root()
        mode = os.stat(self.root).st_mode
        if not mode & stat.S_ISVTX:
            try:
                os.chmod(self.root, stat.S_IMODE(mode) | stat.S_ISVTX)
            except PermissionError:
                self.fail(f"The exchange root {self.root} is not sticky and you cannot make it so: "
                          f"run `chmod 1777 {self.root}` as its owner.")
            self.log.warning("Exchange root %s: sticky bit set (mode 1777)", self.root)
