"""Upload handling: hash while streaming to a temporary file, and stop at the size limit."""
import hashlib

from django.conf import settings
from django.core.files.uploadhandler import StopUpload, TemporaryFileUploadHandler


class UploadTooLarge(Exception):
    """The upload exceeds ASSB_UPLOAD_MAX_BYTES."""


class HashingUploadHandler(TemporaryFileUploadHandler):
    """Streams every upload to disk, computing SHA-256 and counting bytes on the way (one pass)."""

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        self._sha = hashlib.sha256()
        self._received = 0
        self._head = b""

    def receive_data_chunk(self, raw_data, start):
        self._received += len(raw_data)
        if self._received > settings.ASSB_UPLOAD_MAX_BYTES:
            self.request.upload_too_large = True
            raise StopUpload(connection_reset=True)
        self._sha.update(raw_data)
        if len(self._head) < 4096:
            self._head += raw_data[: 4096 - len(self._head)]
        return super().receive_data_chunk(raw_data, start)

    def file_complete(self, file_size):
        file = super().file_complete(file_size)
        if file is not None:
            file.sha256 = self._sha.hexdigest()
            file.head = self._head
        return file
