// A fresh directory under /tmp, removed when destroyed. Std only, so the
// store's tests link the store and this, not the whole app (and build
// quickly under sanitizers).
#pragma once

#include <filesystem>
#include <string>

namespace relance::test {

class TempDir {
public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

}  // namespace relance::test
