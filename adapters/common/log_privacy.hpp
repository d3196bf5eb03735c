// What log lines may say. A log is read by whoever runs the server, kept
// for weeks and sent along with bug reports: no secret ever goes in, and no
// learner's personal data (number, address, Matrix id, name, what they
// wrote) unless the operator asks for it to troubleshoot
// (`relance --log-personal-data`). Hidden, a value becomes a short keyed
// fingerprint, "[perso:1a2b3c4d]": two lines about the same person match
// within one run, and nothing outside the process can map it back (the key
// is drawn at start, so not even by hashing every phone number).
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>

namespace relance::logs {

// Off by default; `--log-personal-data` turns it on for the process.
void show_personal_data(bool shown);
bool personal_data_shown();

// A learner's value for a log line: as is when personal data is shown,
// otherwise its fingerprint. Empty stays empty.
std::string personal(std::string_view value);

// Text that came from outside and may echo what we sent (a gateway's error
// body, a URL): every secret becomes "[secret]" and, unless personal data is
// shown, every personal value its fingerprint — as written, percent-encoded
// and form-encoded (a gateway echoing its query string). Values shorter than
// 4 bytes are left alone: they would match everywhere and hide nothing.
std::string redact(std::string_view text, std::initializer_list<std::string_view> secrets,
                   std::initializer_list<std::string_view> personal_values = {});

// A request target for a log line: the path, and the query only when
// personal data is shown, with the values of secret-like parameters
// (secret, password, token, key, signature, ...) as "[secret]".
std::string loggable_target(std::string_view target);

}  // namespace relance::logs
