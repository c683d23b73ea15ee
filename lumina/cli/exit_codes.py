"""Exit statuses of the ``lumina`` command, shared by every verb.

1 is any error the user can cause (and an invalid report); 2 (an unreadable report) is set
by the exception itself (``exit_code``); 130, 141 and 143 are the shell's conventions for
Ctrl-C, a closed output pipe (SIGPIPE: ``lumina … | head``) and SIGTERM (128 + the signal's
number).
"""

EXIT_ERROR = 1
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141
EXIT_TERMINATED = 143
