"""Session files (SQLite, WAL): raw notifications as received, metadata, gaps, markers, alerts.

- :class:`SessionWriter` writes a session (crash-safe: committed at least every 0.25 s).
- :class:`SessionReader` reads it back, decodes raw notifications, maps them to session time.
- :func:`import_csv_session` / :func:`read_imu_csv`: DESIGN.md section 4 CSV files.

See ``docs/recording-format.md`` for the schema (readable with plain ``sqlite3``).
"""

from ._common import RecordingError
from .csvio import CsvFormatError, ImuCsv, import_csv_session, read_imu_csv
from .reader import (
    DecodedStream,
    Marker,
    SessionReader,
    summarize,
)
from .recorder import SessionRecorder
from .schema import APPLICATION_ID, CSV_IMPORT_PROFILE, SCHEMA_VERSION
from .writer import SessionWriter, remove_session_file

__all__ = [
    "APPLICATION_ID",
    "CSV_IMPORT_PROFILE",
    "CsvFormatError",
    "DecodedStream",
    "ImuCsv",
    "Marker",
    "RecordingError",
    "SCHEMA_VERSION",
    "SessionReader",
    "SessionRecorder",
    "SessionWriter",
    "import_csv_session",
    "read_imu_csv",
    "remove_session_file",
    "summarize",
]
