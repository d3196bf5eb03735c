// Fuzz target: a message as an IMAP server hands it over, written by any
// mail client, mailer daemon or spammer. Reading it must end in a message,
// an auto-reply or a bounce (or a stated problem), never a crash, with text
// staff can be shown: valid UTF-8, within the size limit.
#include "messages/text/utf8.hpp"
#include "adapters/email/received.hpp"

#include <cstdint>
#include <cstdlib>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using relance::email::ReceivedEmail;
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ReceivedEmail m = relance::email::parse_received(bytes);
  if (!relance::text::is_valid_utf8(m.text) || m.text.size() > relance::email::max_text) std::abort();
  if (!relance::text::is_valid_utf8(m.subject) || !relance::text::is_valid_utf8(m.from_name)) std::abort();
  if (m.kind != ReceivedEmail::Kind::bounce && !m.bounced_ids.empty()) std::abort();
  for (const auto& r : m.refs)
    if (r.empty() || r.front() == '<' || r.back() == '>') std::abort();
  for (const auto& id : m.bounced_ids)
    if (relance::email::relance_outbox_id(id) && id.find('@') == std::string::npos) std::abort();
  // The pieces on their own, with bytes that are not even UTF-8.
  (void)relance::email::strip_quoted(bytes);
  (void)relance::email::html_to_text(bytes);
  (void)relance::email::relance_outbox_id(bytes);
  return 0;
}
