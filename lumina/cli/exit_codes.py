"""Exit statuses of the ``lumina`` command, shared by every verb.

1 is any error the user can cause (and an invalid report); 2 (an unreadable report) is set
by the exception itself (``exit_code``); 130 is the shell's convention for Ctrl-C.
"""

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
