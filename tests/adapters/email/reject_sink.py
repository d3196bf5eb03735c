"""aiosmtpd handler for smtp_test.cpp: the recipe's MaildirSink, except that
RCPT TO unknown@... gets 550 (mailbox unknown) and busy@... 451 (try later)."""
from smtp_sink_handler import MaildirSink


class RejectingSink(MaildirSink):
    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.startswith("unknown@"):
            return "550 5.1.1 <%s>: mailbox unknown" % address
        if address.startswith("busy@"):
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"
