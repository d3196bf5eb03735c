#include "adapters/lms/csv/csv_reader.hpp"

#include <array>
#include <stdexcept>

namespace relance::csv {

Reader::Reader(std::string_view text, char separator, std::size_t max_field_bytes)
    : text_(text), sep_(separator), max_field_(max_field_bytes) {
  if (text_.starts_with("\xEF\xBB\xBF")) pos_ = 3;
}

Reader::Status Reader::next(Record& r) {
  if (!error_.empty()) return Status::error;
  const std::size_t n = text_.size();

  // Skip empty lines (a trailing newline, blank lines Excel leaves at the end).
  while (pos_ < n && (text_[pos_] == '\n' || text_[pos_] == '\r')) {
    if (text_[pos_] == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
  }
  if (pos_ >= n) return Status::end;

  r.line = line_;
  r.too_long_field = -1;
  r.too_long_bytes = 0;
  std::size_t count = 0;
  std::size_t length = 0;  // of the current field, including what was not copied
  auto field = [&]() -> std::string& {
    if (count == r.fields.size()) r.fields.emplace_back();
    std::string& f = r.fields[count++];
    f.clear();
    length = 0;
    return f;
  };
  // Appends up to the limit; counts everything.
  auto append = [&](std::string& f, std::string_view s) {
    length += s.size();
    if (f.size() < max_field_) f.append(s.substr(0, max_field_ - f.size()));
  };
  auto note_length = [&] {
    if (length > max_field_ && r.too_long_field < 0) {
      r.too_long_field = int(count) - 1;
      r.too_long_bytes = length;
    }
  };

  for (;;) {
    std::string& f = field();
    if (pos_ < n && text_[pos_] == '"') {
      const int start_line = line_;
      ++pos_;
      for (;;) {
        // Copy the run up to the next quote or line end in one go.
        const std::size_t stop = text_.find_first_of("\"\r\n", pos_);
        if (stop == std::string_view::npos) {
          error_line_ = start_line;
          error_ = "guillemet ouvert jamais refermé (le reste du fichier serait lu comme un seul champ)";
          return Status::error;
        }
        append(f, text_.substr(pos_, stop - pos_));
        pos_ = stop;
        const char c = text_[pos_];
        if (c == '"') {
          if (pos_ + 1 < n && text_[pos_ + 1] == '"') {  // "" is one quote
            append(f, "\"");
            pos_ += 2;
            continue;
          }
          ++pos_;
          break;
        }
        // A line end inside quotes is part of the field; CRLF becomes LF.
        if (c == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n') ++pos_;
        append(f, "\n");
        ++pos_;
        ++line_;
      }
      // After the closing quote: spaces are tolerated, anything else would
      // mean the quoting is not what the author thought.
      while (pos_ < n && (text_[pos_] == ' ' || (text_[pos_] == '\t' && sep_ != '\t'))) ++pos_;
      if (pos_ < n && text_[pos_] != sep_ && text_[pos_] != '\n' && text_[pos_] != '\r') {
        error_line_ = line_;
        error_ = "texte après la fin d'un champ entre guillemets (« " +
                 std::string(text_.substr(pos_, std::min<std::size_t>(20, n - pos_))) + " »)";
        return Status::error;
      }
    } else {
      const char stops[] = {sep_, '\r', '\n', '\0'};
      std::size_t stop = text_.find_first_of(std::string_view(stops, 3), pos_);
      if (stop == std::string_view::npos) stop = n;
      append(f, text_.substr(pos_, stop - pos_));
      pos_ = stop;
    }
    note_length();
    if (pos_ >= n) break;
    const char c = text_[pos_];
    if (c == sep_) {
      ++pos_;
      continue;
    }
    // End of the record.
    if (c == '\r' && pos_ + 1 < n && text_[pos_ + 1] == '\n') ++pos_;
    ++pos_;
    ++line_;
    break;
  }
  r.fields.resize(count);
  return Status::record;
}

char detect_separator(std::string_view text) {
  constexpr std::array<char, 3> candidates{'\t', ';', ','};
  char best = ',';
  int best_score = -1;
  for (char sep : candidates) {
    Reader reader(text, sep);
    Record r;
    std::size_t header = 0;
    int agreeing = 0, records = 0;
    while (records < 20 && reader.next(r) == Reader::Status::record) {
      if (records == 0) header = r.fields.size();
      else if (r.fields.size() == header) ++agreeing;
      ++records;
    }
    if (header < 2) continue;
    // Lines that split like the header count most; the width breaks ties
    // (a header alone, or a file where another separator also appears).
    const int score = agreeing * 1000 + int(header);
    if (score > best_score) {
      best_score = score;
      best = sep;
    }
  }
  return best;
}

std::vector<Record> read_all(std::string_view text, char separator) {
  Reader reader(text, separator);
  std::vector<Record> out;
  Record r;
  for (;;) {
    switch (reader.next(r)) {
      case Reader::Status::record: out.push_back(r); break;
      case Reader::Status::end: return out;
      case Reader::Status::error:
        throw std::runtime_error("ligne " + std::to_string(reader.error_line()) + " : " + reader.error());
    }
  }
}

}  // namespace relance::csv
