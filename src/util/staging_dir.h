// An output folder that appears under its final name only when complete: everything is
// written into a temporary sibling folder, which commit() renames into place. Destroyed
// without commit(), the temporary folder is removed and the final name is untouched.
#pragma once

#include <string>
#include <vector>

namespace zili {

class StagingDir {
 public:
  // Refuses (zili::Error) when `final_path` exists and is not an empty folder, unless
  // `overwrite`; `flag_hint` names the flag that allows it (e.g. "--force"). Refuses always
  // when `final_path` is, or holds, one of `inputs`: replacing it would delete what is read.
  StagingDir(std::string final_path, bool overwrite, const std::string& flag_hint = "--force",
             const std::vector<std::string>& inputs = {});
  ~StagingDir();
  const std::string& path() const { return staging_; }  // write here
  const std::string& final_path() const { return final_; }
  void commit();

  StagingDir(const StagingDir&) = delete;
  StagingDir& operator=(const StagingDir&) = delete;

 private:
  std::string final_, staging_;
  bool committed_ = false;
};

}  // namespace zili
