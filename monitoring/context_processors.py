"""Template context: the number of alerts waiting in the user's inbox, for the badge in the nav."""


def alert_badge(request):
    def count():
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return 0
        from .selectors import inbox_count

        return inbox_count(user)

    # A callable: the template calls it only where the nav shows it (one COUNT query per page).
    return {"alert_badge": count}
