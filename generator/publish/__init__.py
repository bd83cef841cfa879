"""Publishing by git: history read from the repository, `changes`, and new repositories (`init`)."""
