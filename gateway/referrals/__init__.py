"""The family-physician referral programme: referrals issued, checked when used, fed back."""
