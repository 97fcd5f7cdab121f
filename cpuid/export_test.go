package cpuid

var (
	ParseNoDCAS = parseNoDCAS
	Slug        = slug
)

const MaxSlug = maxSlug

const AsmBuilt = asmBuilt
