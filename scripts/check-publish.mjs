// Whether a tag build may publish (scripts/check-release.mjs runs this on a tag in
// GitHub Actions, before .github/workflows/release.yml publishes anything): the tag
// is v + package.json's version, and package.json's repository is the repository
// the workflow runs in, as npm publish --provenance requires of the package.

/** The repository URL forms npm accepts in package.json, reduced to OWNER/NAME on github.com. */
function githubRepository(repository) {
  const url = typeof repository === "string" ? repository : repository?.url;
  if (typeof url !== "string") return undefined;
  const short = /^(?:github:)?([\w.-]+\/[\w.-]+)$/.exec(url)?.[1];
  const long = /^(?:git\+)?(?:https?|git|ssh):\/\/(?:git@)?github\.com[/:]([\w.-]+\/[\w.-]+?)(?:\.git)?\/?$/.exec(
    url,
  )?.[1];
  return (short ?? long)?.toLowerCase();
}

/**
 * What keeps a tag build from publishing, one sentence each; none when it may.
 * @param {{ GITHUB_REF_NAME?: string, GITHUB_REPOSITORY?: string }} env  the workflow's
 * @param {{ version: string, repository?: string | { url?: string } }} pkg  package.json
 */
export function publishProblems(env, pkg) {
  const problems = [];
  if (env.GITHUB_REF_NAME !== `v${pkg.version}`) {
    problems.push(
      `the tag ${env.GITHUB_REF_NAME} is not v${pkg.version}: change package.json's version, or tag v + it`,
    );
  }
  const want = String(env.GITHUB_REPOSITORY).toLowerCase();
  const have = githubRepository(pkg.repository);
  if (have !== want) {
    const url = typeof pkg.repository === "string" ? pkg.repository : pkg.repository?.url;
    const is = have !== undefined ? `github.com/${have}` : url === undefined ? "not set" : url;
    problems.push(
      `package.json's repository is ${is}, not github.com/${want}: ` +
        "npm publish --provenance refuses a package whose repository is not the one publishing it",
    );
  }
  return problems;
}
