"""The AICPA 2017 Trust Services Criteria (revised points of focus 2022): ids and titles."""

from __future__ import annotations

# Categories a SOC 2 / SOC 3 report can have in scope.
CATEGORIES: dict[str, str] = {
    "security": "Security",
    "availability": "Availability",
    "processing_integrity": "Processing integrity",
    "confidentiality": "Confidentiality",
    "privacy": "Privacy",
}

CRITERIA: dict[str, str] = {
    "CC1.1": "Demonstrates commitment to integrity and ethical values",
    "CC1.2": "Board exercises oversight responsibility",
    "CC1.3": "Establishes structure, authority and responsibility",
    "CC1.4": "Demonstrates commitment to competence",
    "CC1.5": "Enforces accountability",
    "CC2.1": "Uses relevant, quality information",
    "CC2.2": "Communicates internally",
    "CC2.3": "Communicates externally",
    "CC3.1": "Specifies suitable objectives",
    "CC3.2": "Identifies and analyzes risk",
    "CC3.3": "Assesses fraud risk",
    "CC3.4": "Identifies and analyzes significant change",
    "CC4.1": "Selects, develops and performs ongoing or separate evaluations",
    "CC4.2": "Evaluates and communicates deficiencies",
    "CC5.1": "Selects and develops control activities",
    "CC5.2": "Selects and develops general controls over technology",
    "CC5.3": "Deploys through policies and procedures",
    "CC6.1": "Logical access security software, infrastructure and architectures",
    "CC6.2": "User registration and authorization",
    "CC6.3": "Role-based access and least privilege",
    "CC6.4": "Physical access restrictions",
    "CC6.5": "Disposal of assets",
    "CC6.6": "Protection against threats from outside system boundaries",
    "CC6.7": "Restricts transmission, movement and removal of information",
    "CC6.8": "Prevents or detects unauthorized or malicious software",
    "CC7.1": "Detects configuration changes and new vulnerabilities",
    "CC7.2": "Monitors system components for anomalies",
    "CC7.3": "Evaluates security events",
    "CC7.4": "Responds to security incidents",
    "CC7.5": "Recovers from security incidents",
    "CC8.1": "Manages changes to infrastructure, data, software and procedures",
    "CC9.1": "Identifies and mitigates business disruption risk",
    "CC9.2": "Assesses and manages vendor and business partner risk",
    "A1.1": "Manages capacity demand",
    "A1.2": "Environmental protections, backup and recovery infrastructure",
    "A1.3": "Tests recovery plan procedures",
    "C1.1": "Identifies and maintains confidential information",
    "C1.2": "Disposes of confidential information",
    "PI1.1": "Obtains and uses information about processing objectives",
    "PI1.2": "Policies and procedures over system inputs",
    "PI1.3": "Policies and procedures over system processing",
    "PI1.4": "Policies and procedures over system outputs",
    "PI1.5": "Stores inputs, items in processing and outputs",
    "P1.1": "Provides notice about privacy practices",
    "P2.1": "Communicates choices and obtains consent",
    "P3.1": "Collects personal information consistent with objectives",
    "P3.2": "Obtains explicit consent where required",
    "P4.1": "Limits the use of personal information",
    "P4.2": "Retains personal information",
    "P4.3": "Securely disposes of personal information",
    "P5.1": "Grants data subjects access to their information",
    "P5.2": "Corrects, amends or appends personal information",
    "P6.1": "Discloses personal information to third parties with consent",
    "P6.2": "Records authorized disclosures",
    "P6.3": "Records unauthorized disclosures",
    "P6.4": "Obtains privacy commitments from vendors and third parties",
    "P6.5": "Obtains notice of unauthorized disclosures from vendors",
    "P6.6": "Notifies affected parties of breaches and incidents",
    "P6.7": "Provides an accounting of personal information held",
    "P7.1": "Collects and maintains accurate personal information",
    "P8.1": "Handles inquiries, complaints and disputes",
}


def category_of(criterion_id: str) -> str:
    """The trust services category a criterion belongs to (common criteria count as security)."""
    prefix = criterion_id.split(".", 1)[0].rstrip("0123456789")
    return {"CC": "security", "A": "availability", "C": "confidentiality",
            "PI": "processing_integrity", "P": "privacy"}[prefix]
